/*
 * The benchmarks' RTP sink, counting core (Linux, libc only). Started by tests/bench/rtp-sink-process.ts
 * with `rtp-sink <socket count> <receive buffer bytes>`; compiled at bench time by native-sink.ts.
 *
 * It binds the UDP sockets on 127.0.0.1, prints "open <granted receive buffer> <port>..." on one line,
 * then reads every datagram with recvmmsg and counts per watched SSRC, like the Node sink: RTCP
 * (payload types 64-95) and RTP of unknown SSRCs are counted apart; loss comes from gaps in 16-bit
 * sequence numbers extended to the value nearest the highest so far.
 *
 * Commands on stdin, one a line, handled in the same epoll loop as the sockets:
 *   w <ssrc> <kind index>     count this SSRC as media of that kind
 *   m <ssrc>                  a first match is pending: pass its packets on (see "pkt" below)
 *   c <ssrc>                  the first match was found (or given up): stop passing them on
 *   a <id>                    answers "ack <id>" (everything before it has been applied)
 *   t <id>                    answers "totals <id> <packets> <bytes> <expected> <streams> <rtcp>
 *                             <otherRtp> <kind count>" then "<packets> <bytes> <expected> <streams>"
 *                             for each kind index from 0
 *   q                         exits
 * For an SSRC with a pending first match every packet is written as
 *   pkt <ssrc> <arrival ms since the epoch, CLOCK_REALTIME> <extended seq> <base64 of the datagram>
 * Errors are written as "error <message>" (then it exits 1 if it cannot go on).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define DATAGRAM_MAX 65536
/*
 * While no first match is pending, only the RTP header is copied out of the kernel (MSG_TRUNC still
 * gives the datagram's full length): counting needs no more, and copying the media costs most of the time.
 */
#define HEADER_BYTES 16
#define MAX_KINDS 64
#define MAX_SOCKETS 4096
#define SEQ_MODULO 65536LL
/*
 * After a round that read packets, wait this long before the next: packets pile up in the (large)
 * receive buffers and are read in full batches, so a busy sink makes few system calls per packet.
 * Arrival times come from the kernel (SO_TIMESTAMPNS), so the wait does not delay them.
 */
#define ROUND_PAUSE_NS 1000000L

typedef struct {
  uint32_t ssrc;
  uint8_t used;
  uint8_t first_pending;
  uint8_t seen;
  uint16_t kind;
  int64_t first_seq;
  int64_t highest_seq;
} entry_t;

typedef struct {
  uint64_t packets;
  uint64_t bytes;
} kind_t;

static entry_t *table;
static size_t capacity;
static size_t used_count;
static kind_t kinds[MAX_KINDS];
static int kind_count;
static uint64_t total_packets, total_bytes, rtcp_packets, other_rtp;
static size_t pending_firsts;

/* Output: buffered, flushed after each round of the loop (and when full). */
static char out[1 << 20];
static size_t out_len;

static void flush_out(void) {
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(STDOUT_FILENO, out + done, out_len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(errno == EPIPE ? 0 : 1); /* the relay is gone: nobody to count for */
    }
    done += (size_t)n;
  }
  out_len = 0;
}

static void reserve_out(size_t bytes) {
  if (out_len + bytes > sizeof out) flush_out();
}

static void put(const char *format, ...) {
  reserve_out(512);
  va_list args;
  va_start(args, format);
  int n = vsnprintf(out + out_len, sizeof out - out_len, format, args);
  va_end(args);
  if (n > 0) out_len += (size_t)n < sizeof out - out_len ? (size_t)n : sizeof out - out_len - 1;
}

static void fail(const char *format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  put("error %s\n", message);
  flush_out();
  exit(1);
}

static inline size_t slot_of(uint32_t ssrc) {
  uint32_t h = ssrc * 2654435761u; /* Knuth's multiplicative hash */
  h ^= h >> 15;
  return (size_t)h & (capacity - 1);
}

static entry_t *lookup(uint32_t ssrc) {
  size_t i = slot_of(ssrc);
  for (;;) {
    entry_t *e = &table[i];
    if (!e->used) return NULL;
    if (e->ssrc == ssrc) return e;
    i = (i + 1) & (capacity - 1);
  }
}

static void grow(void);

static entry_t *insert(uint32_t ssrc) {
  if ((used_count + 1) * 2 > capacity) grow();
  size_t i = slot_of(ssrc);
  for (;;) {
    entry_t *e = &table[i];
    if (!e->used) {
      memset(e, 0, sizeof *e);
      e->used = 1;
      e->ssrc = ssrc;
      used_count++;
      return e;
    }
    if (e->ssrc == ssrc) return e;
    i = (i + 1) & (capacity - 1);
  }
}

static void grow(void) {
  entry_t *old = table;
  size_t old_capacity = capacity;
  capacity = capacity ? capacity * 2 : 4096;
  table = calloc(capacity, sizeof *table);
  if (!table) fail("out of memory for %zu SSRCs", capacity);
  used_count = 0;
  for (size_t i = 0; i < old_capacity; i++) {
    if (!old[i].used) continue;
    entry_t *e = insert(old[i].ssrc);
    *e = old[i];
  }
  free(old);
}

static const char BASE64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(const uint8_t *data, size_t length) {
  reserve_out(length / 3 * 4 + 8);
  char *o = out + out_len;
  size_t i = 0;
  for (; i + 2 < length; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
    *o++ = BASE64[v >> 18];
    *o++ = BASE64[(v >> 12) & 63];
    *o++ = BASE64[(v >> 6) & 63];
    *o++ = BASE64[v & 63];
  }
  if (i < length) {
    uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < length ? (uint32_t)data[i + 1] << 8 : 0);
    *o++ = BASE64[v >> 18];
    *o++ = BASE64[(v >> 12) & 63];
    *o++ = i + 1 < length ? BASE64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  out_len = (size_t)(o - out);
}

static double realtime_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

/* When the kernel received the datagram (SO_TIMESTAMPNS), in ms since the epoch; now if not given. */
static double arrival_ms(struct msghdr *header) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(header); c; c = CMSG_NXTHDR(header, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec at;
      memcpy(&at, CMSG_DATA(c), sizeof at);
      return (double)at.tv_sec * 1e3 + (double)at.tv_nsec / 1e6;
    }
  }
  return realtime_ms();
}

/* `length`: the datagram's; `captured`: how much of it is in `p` (the header at least, if it has one). */
static void on_packet(const uint8_t *p, size_t length, size_t captured, struct msghdr *header) {
  if (length < 12 || p[0] >> 6 != 2) return; /* not RTP or RTCP version 2 */
  unsigned payload_type = p[1] & 0x7f;
  /* RTCP packet types 192-223 read as payload types 64-95 in the RTP header's position (RFC 5761). */
  if (payload_type >= 64 && payload_type <= 95) {
    rtcp_packets++;
    return;
  }
  uint32_t seq = (uint32_t)p[2] << 8 | p[3];
  uint32_t ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
  entry_t *e = lookup(ssrc);
  if (!e) {
    other_rtp++;
    return;
  }
  total_packets++;
  total_bytes += length;
  kinds[e->kind].packets++;
  kinds[e->kind].bytes += length;
  int64_t extended = seq;
  if (!e->seen) {
    e->seen = 1;
    e->first_seq = e->highest_seq = seq;
  } else {
    /* Nearest the highest so far: a wrap is not a gap, a late (reordered) packet is not a jump. */
    int64_t highest = e->highest_seq;
    int64_t base = highest - (((highest % SEQ_MODULO) + SEQ_MODULO) % SEQ_MODULO);
    extended = base + seq;
    if (extended < highest - SEQ_MODULO / 2) extended += SEQ_MODULO;
    else if (extended > highest + SEQ_MODULO / 2) extended -= SEQ_MODULO;
    if (extended > highest) e->highest_seq = extended;
  }
  if (e->first_pending && captured == length) {
    put("pkt %u %.3f %lld ", ssrc, arrival_ms(header), (long long)extended);
    put_base64(p, length);
    out[out_len++] = '\n';
  }
}

static void put_totals(unsigned long long id) {
  uint64_t expected[MAX_KINDS] = {0}, streams[MAX_KINDS] = {0};
  uint64_t all_expected = 0, all_streams = 0;
  for (size_t i = 0; i < capacity; i++) {
    entry_t *e = &table[i];
    if (!e->used || !e->seen) continue;
    uint64_t n = (uint64_t)(e->highest_seq - e->first_seq + 1);
    expected[e->kind] += n;
    streams[e->kind]++;
    all_expected += n;
    all_streams++;
  }
  put("totals %llu %llu %llu %llu %llu %llu %llu %d", id, (unsigned long long)total_packets, (unsigned long long)total_bytes,
      (unsigned long long)all_expected, (unsigned long long)all_streams, (unsigned long long)rtcp_packets,
      (unsigned long long)other_rtp, kind_count);
  for (int k = 0; k < kind_count; k++) {
    put(" %llu %llu %llu %llu", (unsigned long long)kinds[k].packets, (unsigned long long)kinds[k].bytes,
        (unsigned long long)expected[k], (unsigned long long)streams[k]);
  }
  put("\n");
}

/* One command line (without its newline). Returns 0 to quit. */
static int on_command(char *line) {
  char *rest = line + 1;
  char *end;
  switch (line[0]) {
    case 'w': {
      unsigned long ssrc = strtoul(rest, &end, 10);
      long kind = strtol(end, &end, 10);
      if (kind < 0 || kind >= MAX_KINDS) fail("kind index %ld out of range (at most %d kinds)", kind, MAX_KINDS);
      entry_t *e = insert((uint32_t)ssrc);
      e->kind = (uint16_t)kind;
      if (kind >= kind_count) kind_count = (int)kind + 1;
      return 1;
    }
    case 'm':
    case 'c': {
      entry_t *e = lookup((uint32_t)strtoul(rest, &end, 10));
      if (!e) {
        if (line[0] == 'm') fail("a first match for SSRC %s, which is not watched", rest);
        return 1;
      }
      uint8_t pending = line[0] == 'm';
      if (pending != e->first_pending) pending_firsts += pending ? 1 : (size_t)-1;
      e->first_pending = pending;
      return 1;
    }
    case 'a':
      put("ack %llu\n", strtoull(rest, &end, 10));
      return 1;
    case 't':
      put_totals(strtoull(rest, &end, 10));
      return 1;
    case 'q':
      return 0;
    case '\0':
      return 1;
    default:
      fail("unknown command \"%.40s\"", line);
      return 0;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <socket count> <receive buffer bytes>\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* Ctrl-C reaches the whole process group: the benchmark stops the run, then this process. */
  signal(SIGINT, SIG_IGN);
  long socket_count = strtol(argv[1], NULL, 10);
  long receive_buffer = strtol(argv[2], NULL, 10);
  if (socket_count <= 0 || socket_count > MAX_SOCKETS) fail("socket count %s out of range 1-%d", argv[1], MAX_SOCKETS);
  grow();

  int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) fail("epoll_create1: %s", strerror(errno));
  struct epoll_event event = {.events = EPOLLIN, .data.fd = STDIN_FILENO};
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, STDIN_FILENO, &event) < 0) fail("epoll_ctl(stdin): %s", strerror(errno));

  int granted = 0;
  put("open");
  char ports[MAX_SOCKETS * 7 + 1];
  size_t ports_len = 0;
  for (long i = 0; i < socket_count; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket: %s", strerror(errno));
    int size = (int)receive_buffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) fail("SO_RCVBUF: %s", strerror(errno));
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) fail("SO_TIMESTAMPNS: %s", strerror(errno));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) fail("bind 127.0.0.1: %s", strerror(errno));
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0) fail("getsockname: %s", strerror(errno));
    if (i == 0) {
      socklen_t size_length = sizeof granted;
      getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &size_length);
    }
    ports_len += (size_t)snprintf(ports + ports_len, sizeof ports - ports_len, " %u", ntohs(address.sin_port));
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) fail("epoll_ctl: %s", strerror(errno));
  }
  put(" %d", granted);
  reserve_out(ports_len + 2);
  memcpy(out + out_len, ports, ports_len);
  out_len += ports_len;
  put("\n");
  flush_out();

  static uint8_t buffers[BATCH][DATAGRAM_MAX];
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  static union {
    char bytes[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
  } controls[BATCH];
  for (int i = 0; i < BATCH; i++) {
    vectors[i].iov_base = buffers[i];
    vectors[i].iov_len = DATAGRAM_MAX;
  }
  static char input[1 << 16];
  size_t input_len = 0;
  static struct epoll_event events[MAX_SOCKETS + 1];

  for (;;) {
    long packets_this_round = 0;
    int ready = epoll_wait(epoll, events, MAX_SOCKETS + 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait: %s", strerror(errno));
    }
    for (int r = 0; r < ready; r++) {
      int fd = events[r].data.fd;
      if (fd == STDIN_FILENO) {
        ssize_t n = read(STDIN_FILENO, input + input_len, sizeof input - input_len);
        if (n == 0) return 0; /* the relay is gone (or closed our input) */
        if (n < 0) {
          if (errno == EINTR || errno == EAGAIN) continue;
          fail("reading commands: %s", strerror(errno));
        }
        input_len += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < input_len; i++) {
          if (input[i] != '\n') continue;
          input[i] = '\0';
          if (!on_command(input + start)) {
            flush_out();
            return 0;
          }
          start = i + 1;
        }
        if (start == 0 && input_len == sizeof input) fail("command line too long");
        memmove(input, input + start, input_len - start);
        input_len -= start;
        continue;
      }
      /* Up to 16 batches per socket per round, so that one busy socket does not starve the others. */
      for (int round = 0; round < 16; round++) {
        for (int i = 0; i < BATCH; i++) {
          memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
          vectors[i].iov_len = pending_firsts > 0 ? DATAGRAM_MAX : HEADER_BYTES;
          messages[i].msg_hdr.msg_iov = &vectors[i];
          messages[i].msg_hdr.msg_iovlen = 1;
          messages[i].msg_hdr.msg_control = controls[i].bytes;
          messages[i].msg_hdr.msg_controllen = sizeof controls[i].bytes;
        }
        int received = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (received < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          /* Like Node's socket 'error': report, keep counting on the other sockets. */
          put("error socket %d: %s\n", fd, strerror(errno));
          break;
        }
        packets_this_round += received;
        for (int i = 0; i < received; i++) {
          size_t length = messages[i].msg_len;
          size_t captured = length < vectors[i].iov_len ? length : vectors[i].iov_len;
          on_packet(buffers[i], length, captured, &messages[i].msg_hdr);
        }
        if (received < BATCH) break;
      }
    }
    if (out_len > 0) flush_out();
    if (packets_this_round > 0) {
      struct timespec pause = {.tv_sec = 0, .tv_nsec = ROUND_PAUSE_NS};
      nanosleep(&pause, NULL);
    }
  }
}
