// What the media module and the Node client SDK both do with a werift
// connection (docs/werift.md): one RTCP report a second per connection.
export { ConnectionReporter, MAX_COMPOUND_BYTES, MAX_REPORT_BLOCKS, compoundReports, receptionReports, type SenderReportSource } from './connection-reports';
