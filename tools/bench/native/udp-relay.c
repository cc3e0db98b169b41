/*
 * A bare native UDP relay, the reference `udp-floor.ts --native` measures
 * beside Node's: what a forwarder that never enters a JavaScript event loop
 * pays per datagram on this machine (poll(2) wake-up, recvmmsg(2),
 * sendmmsg(2), the kernel's loopback), before any media work. Not part of
 * the module: a benchmark reference, built by the bench with `cc -O2`.
 *
 *   udp-relay SINK_PORT
 *
 * Binds 127.0.0.1:0, prints its port on stdout, then relays every datagram
 * it receives to 127.0.0.1:SINK_PORT. Ends by itself when its standard input
 * closes (the bench exited) or after 30 minutes (monotonic clock); says on
 * stderr how many datagrams the kernel would not take, if any.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define DATAGRAM_MAX 1500
#define LIFETIME_SECONDS (30 * 60)

int main(int argc, char **argv) {
  char *end = NULL;
  long sink_port = argc == 2 ? strtol(argv[1], &end, 10) : -1;
  if (argc != 2 || *end != '\0' || sink_port < 1 || sink_port > 65535) {
    fprintf(stderr, "usage: udp-relay SINK_PORT (1-65535)\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  int buffer = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t local_length = sizeof local;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0 ||
      getsockname(fd, (struct sockaddr *)&local, &local_length) < 0) {
    perror("bind");
    return 1;
  }
  printf("%d\n", ntohs(local.sin_port));
  fflush(stdout);

  struct sockaddr_in sink = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sink_port)};
  sink.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static char data[BATCH][DATAGRAM_MAX];
  struct iovec iov[BATCH];
  struct mmsghdr messages[BATCH];
  memset(messages, 0, sizeof messages);
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = data[i];
    iov[i].iov_len = DATAGRAM_MAX;
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }

  struct pollfd watched[2] = {{.fd = fd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
  long unsent = 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  time_t deadline = now.tv_sec + LIFETIME_SECONDS;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec >= deadline) break;
    if (poll(watched, 2, 1000) < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (watched[1].revents) {
      char byte;
      if (read(STDIN_FILENO, &byte, 1) <= 0) break; /* the bench went away */
    }
    if (!(watched[0].revents & POLLIN)) continue;
    for (;;) {
      for (int i = 0; i < BATCH; i++) iov[i].iov_len = DATAGRAM_MAX;
      int received = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
      if (received <= 0) break;
      for (int i = 0; i < received; i++) {
        iov[i].iov_len = messages[i].msg_len;
        messages[i].msg_hdr.msg_name = &sink;
        messages[i].msg_hdr.msg_namelen = sizeof sink;
      }
      int sent = sendmmsg(fd, messages, (unsigned)received, 0);
      unsent += received - (sent < 0 ? 0 : sent);
      for (int i = 0; i < received; i++) {
        messages[i].msg_hdr.msg_name = NULL;
        messages[i].msg_hdr.msg_namelen = 0;
      }
      if (received < BATCH) break;
    }
  }
  if (unsent > 0) fprintf(stderr, "udp-relay: %ld datagrams not sent\n", unsent);
  return 0;
}
