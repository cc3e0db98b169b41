// What the media module and the Node client SDK both do with a werift
// connection (docs/werift.md): one RTCP report a second per connection, and
// SRTP/SRTCP on the native fast path (werift patches 012, 015).
export { ConnectionReporter, MAX_COMPOUND_BYTES, MAX_REPORT_BLOCKS, compoundReports, receptionReports, type SenderReportSource } from './connection-reports';
export { ReceiveRollover, fastRtpDecryptor, fastSrtcpCodec } from './fast-srtp';
