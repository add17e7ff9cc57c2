/*
 * writer: the benchmark's load generator. Every timestamp it prints is
 * CLOCK_MONOTONIC in nanoseconds, the clock the driver and the adapters use.
 *
 *   writer burst DIR N [PREFIX [SENTINEL]]
 *                                      create N files PREFIX%06d (default f) with open/write/close as
 *                                      fast as possible, then SENTINEL (default "sentinel"); prints START/END
 *   writer latency DIR N INTERVAL_US   N single-file writes INTERVAL_US apart (absolute ticks),
 *                                      printing "W <i> <t_ns>" before each open(), then "sentinel"
 *   writer tree ROOT NDIRS NFILES      make NDIRS directories (two levels) with NFILES empty files each
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    exit(1);
  }
  if (len && write(fd, data, len) != (ssize_t)len) {
    fprintf(stderr, "write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  close(fd);
}

static int burst(const char *dir, long n, const char *prefix, const char *sentinel) {
  char path[4096];
  uint64_t t0 = now_ns();
  printf("START %llu\n", (unsigned long long)t0);
  fflush(stdout);
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s%06ld", dir, prefix, i);
    write_file(path, "x\n", 2);
  }
  uint64_t t1 = now_ns();
  snprintf(path, sizeof path, "%s/%s", dir, sentinel);
  write_file(path, "x\n", 2);
  printf("END %llu %llu\n", (unsigned long long)t1, (unsigned long long)now_ns());
  return 0;
}

static int latency(const char *dir, long n, long interval_us) {
  char path[4096];
  struct timespec tick;
  clock_gettime(CLOCK_MONOTONIC, &tick);
  for (long i = 0; i < n; i++) {
    tick.tv_nsec += interval_us * 1000;
    while (tick.tv_nsec >= 1000000000L) {
      tick.tv_nsec -= 1000000000L;
      tick.tv_sec++;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR) {
    }
    snprintf(path, sizeof path, "%s/lat%05ld", dir, i);
    uint64_t t = now_ns();
    write_file(path, "x\n", 2);
    printf("W %ld %llu\n", i, (unsigned long long)t);
  }
  snprintf(path, sizeof path, "%s/sentinel", dir);
  write_file(path, "x\n", 2);
  printf("END %llu\n", (unsigned long long)now_ns());
  return 0;
}

/* NDIRS directories: sqrt(NDIRS) top-level ones, the rest spread under them. */
static int tree(const char *root, long ndirs, long nfiles) {
  char dir[4096], file[4200];
  long top = (long)ceil(sqrt((double)ndirs));
  if (top < 1) top = 1;
  if (top > ndirs) top = ndirs;
  for (long i = 0; i < ndirs; i++) {
    if (i < top)
      snprintf(dir, sizeof dir, "%s/d%04ld", root, i);
    else
      snprintf(dir, sizeof dir, "%s/d%04ld/s%05ld", root, i % top, i);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "mkdir %s: %s\n", dir, strerror(errno));
      return 1;
    }
    for (long f = 0; f < nfiles; f++) {
      snprintf(file, sizeof file, "%s/file%02ld", dir, f);
      write_file(file, "", 0);
    }
  }
  /* The last directory made is the one the driver probes. */
  printf("LAST %s\n", dir);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);
  if (argc >= 4 && !strcmp(argv[1], "burst"))
    return burst(argv[2], atol(argv[3]), argc >= 5 ? argv[4] : "f", argc >= 6 ? argv[5] : "sentinel");
  if (argc >= 5 && !strcmp(argv[1], "latency")) return latency(argv[2], atol(argv[3]), atol(argv[4]));
  if (argc >= 5 && !strcmp(argv[1], "tree")) return tree(argv[2], atol(argv[3]), atol(argv[4]));
  fprintf(stderr, "usage: writer burst DIR N [PREFIX [SENTINEL]] | latency DIR N INTERVAL_US | tree ROOT NDIRS NFILES\n");
  return 2;
}
