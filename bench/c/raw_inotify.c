/*
 * raw_inotify: the benchmark's baseline adapter, the physical limit of what a
 * recursive inotify watcher can do on this machine.
 *
 * It speaks the adapter line protocol described in bench/README.md:
 *   stdout: READY <json> | SEEN <name> <t_ns> | COUNT <n> <t_last_ns> | PROGRESS <n> | DONE | ERROR <msg>
 *   stdin:  WAIT <name> | COUNT | STOP
 * Events are kept in memory (an array of fixed records plus a name arena) and
 * written as JSON to --dump after STOP, so reporting costs nothing while the
 * benchmark measures.
 *
 * Recursion: a readdir() walk (d_type, no stat per entry) adds one watch per
 * directory. `--walk nftw` uses nftw() instead, which lstat()s every entry and
 * so spends most of its time on files (600k newfstatat calls for a tree of
 * 50,000 dirs x 10 files): fine as a reference, not as the fastest way.
 * On IN_CREATE|IN_ISDIR or IN_MOVED_TO|IN_ISDIR it watches the new directory
 * first and then scans it, recording a synthetic event for every entry found
 * there, so files created before the watch existed are still reported.
 *
 * Usage: raw_inotify --root DIR --dump FILE [--mask HEX] [--walk readdir|nftw]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Marks an event that came from scanning a new directory, not from the kernel. */
#define SYNTH_FLAG 0x80000000u

typedef struct {
  uint64_t t_ns;
  uint32_t mask;
  int32_t wd;
  uint32_t name_off; /* offset into names arena */
} rec_t;

static int ino_fd = -1;
static uint32_t watch_mask;
static char **wd_path; /* wd -> path relative to root ("" for the root) */
static size_t wd_cap;
static rec_t *recs;
static size_t nrecs, recs_cap;
static char *names;
static size_t names_len, names_cap;
static uint64_t overflows;
static uint64_t add_watch_errors;
static char *root_path;
static size_t root_len;
static char waits[64][512];
static int nwaits;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// This process's CPU time (all threads): the setup's own cost, which other load disturbs less than wall time.
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  printf("ERROR %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) die("realloc");
  return q;
}

static void set_wd_path(int wd, const char *rel) {
  if ((size_t)wd >= wd_cap) {
    size_t ncap = wd_cap ? wd_cap : 1024;
    while (ncap <= (size_t)wd) ncap *= 2;
    wd_path = xrealloc(wd_path, ncap * sizeof(char *));
    memset(wd_path + wd_cap, 0, (ncap - wd_cap) * sizeof(char *));
    wd_cap = ncap;
  }
  free(wd_path[wd]);
  wd_path[wd] = strdup(rel);
}

static void check_waits(const char *name, uint64_t t) {
  for (int i = 0; i < nwaits; i++) {
    if (strcmp(waits[i], name) == 0) {
      printf("SEEN %s %llu\n", name, (unsigned long long)t);
      fflush(stdout);
      waits[i][0] = '\0';
      memmove(waits[i], waits[nwaits - 1], sizeof waits[0]);
      nwaits--;
      i--;
    }
  }
}

static void record(uint64_t t, uint32_t mask, int wd, const char *name) {
  size_t len = strlen(name) + 1;
  if (names_len + len > names_cap) {
    names_cap = names_cap ? names_cap * 2 : (1u << 20);
    while (names_len + len > names_cap) names_cap *= 2;
    names = xrealloc(names, names_cap);
  }
  memcpy(names + names_len, name, len);
  if (nrecs == recs_cap) {
    recs_cap = recs_cap ? recs_cap * 2 : 65536;
    recs = xrealloc(recs, recs_cap * sizeof(rec_t));
  }
  recs[nrecs].t_ns = t;
  recs[nrecs].mask = mask;
  recs[nrecs].wd = wd;
  recs[nrecs].name_off = (uint32_t)names_len;
  nrecs++;
  names_len += len;
  if (nwaits) check_waits(name, t);
}

static int add_dir(const char *abs) {
  int wd = inotify_add_watch(ino_fd, abs, watch_mask | IN_ONLYDIR);
  if (wd < 0) {
    add_watch_errors++;
    return -1;
  }
  const char *rel = abs + root_len;
  if (*rel == '/') rel++;
  set_wd_path(wd, rel);
  return wd;
}

static int initial_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if (type == FTW_D) add_dir(fpath);
  return 0;
}

/*
 * Watch a directory, then walk what is inside it with readdir() and d_type
 * (no stat per entry), watching every subdirectory. With report set (a
 * directory that just appeared) every entry found is recorded as a synthetic
 * event, so files created before the watch existed are still reported.
 */
static void watch_tree(const char *abs, int depth, int report) {
  int wd = add_dir(abs);
  if (wd < 0 || depth > 64) return;
  DIR *d = opendir(abs);
  if (!d) return;
  struct dirent *de;
  char child[4096];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
      continue;
    int is_dir = de->d_type == DT_DIR;
    if (de->d_type == DT_UNKNOWN) {
      struct stat st;
      snprintf(child, sizeof child, "%s/%s", abs, de->d_name);
      is_dir = lstat(child, &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (report) record(now_ns(), SYNTH_FLAG | IN_CREATE | (is_dir ? IN_ISDIR : 0), wd, de->d_name);
    if (is_dir) {
      snprintf(child, sizeof child, "%s/%s", abs, de->d_name);
      watch_tree(child, depth + 1, report);
    }
  }
  closedir(d);
}

static void handle_events(char *buf, ssize_t len) {
  uint64_t t = now_ns();
  char abs[4096];
  for (char *p = buf; p < buf + len;) {
    struct inotify_event *ev = (struct inotify_event *)p;
    p += sizeof(struct inotify_event) + ev->len;
    if (ev->mask & IN_Q_OVERFLOW) {
      overflows++;
      record(t, ev->mask, -1, "");
      continue;
    }
    const char *name = ev->len ? ev->name : "";
    record(t, ev->mask, ev->wd, name);
    if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->wd >= 0 &&
        (size_t)ev->wd < wd_cap && wd_path[ev->wd]) {
      const char *parent = wd_path[ev->wd];
      if (*parent)
        snprintf(abs, sizeof abs, "%s/%s/%s", root_path, parent, name);
      else
        snprintf(abs, sizeof abs, "%s/%s", root_path, name);
      watch_tree(abs, 0, 1);
    }
  }
}

static const struct {
  uint32_t bit;
  const char *name;
} mask_names[] = {
    {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_CREATE, "CREATE"},         {IN_MOVED_FROM, "MOVED_FROM"},
    {IN_MOVED_TO, "MOVED_TO"},     {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_MODIFY, "MODIFY"},
    {IN_ATTRIB, "ATTRIB"},         {IN_DELETE, "DELETE"},         {IN_DELETE_SELF, "DELETE_SELF"},
    {IN_MOVE_SELF, "MOVE_SELF"},   {IN_OPEN, "OPEN"},             {IN_ACCESS, "ACCESS"},
    {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_IGNORED, "IGNORED"}, {IN_UNMOUNT, "UNMOUNT"},
};

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

static void dump(const char *file) {
  FILE *f = fopen(file, "w");
  if (!f) die("fopen dump");
  fprintf(f, "{\"overflow\":%llu,\"addWatchErrors\":%llu,\"events\":[\n", (unsigned long long)overflows,
          (unsigned long long)add_watch_errors);
  char path[8192];
  for (size_t i = 0; i < nrecs; i++) {
    rec_t *r = &recs[i];
    const char *name = names + r->name_off;
    const char *dir = (r->wd >= 0 && (size_t)r->wd < wd_cap && wd_path[r->wd]) ? wd_path[r->wd] : "?";
    if (*dir && *name)
      snprintf(path, sizeof path, "%s/%s", dir, name);
    else
      snprintf(path, sizeof path, "%s%s", dir, name);
    const char *kind = "OTHER";
    for (size_t k = 0; k < sizeof mask_names / sizeof mask_names[0]; k++)
      if (r->mask & mask_names[k].bit) {
        kind = mask_names[k].name;
        break;
      }
    fprintf(f, "%s[%llu,\"%s%s\",", i ? "," : "", (unsigned long long)r->t_ns, kind,
            (r->mask & SYNTH_FLAG) ? "(scan)" : "");
    json_str(f, path);
    fputs("]\n", f);
  }
  fputs("]}\n", f);
  fclose(f);
}

static uint64_t rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %llu", (unsigned long long *)&kb) == 1) break;
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  const char *dump_file = NULL;
  int use_nftw = 0;
  watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
               IN_DELETE_SELF | IN_MOVE_SELF;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--root"))
      root_path = argv[i + 1];
    else if (!strcmp(argv[i], "--dump"))
      dump_file = argv[i + 1];
    else if (!strcmp(argv[i], "--mask"))
      watch_mask = (uint32_t)strtoul(argv[i + 1], NULL, 0);
    else if (!strcmp(argv[i], "--walk"))
      use_nftw = !strcmp(argv[i + 1], "nftw");
  }
  if (!root_path || !dump_file) {
    fprintf(stderr, "usage: raw_inotify --root DIR --dump FILE [--mask HEX] [--walk readdir|nftw]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  root_len = strlen(root_path);
  while (root_len > 1 && root_path[root_len - 1] == '/') root_path[--root_len] = '\0';

  uint64_t t_start = now_ns();
  uint64_t cpu_start = cpu_ns();
  ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ino_fd < 0) die("inotify_init1");
  if (use_nftw) {
    if (nftw(root_path, initial_cb, 64, FTW_PHYS) != 0) die("nftw");
  } else {
    watch_tree(root_path, 0, 0);
    if (wd_cap == 0) die("watch root");
  }
  uint64_t t_ready = now_ns();
  uint64_t cpu_setup = cpu_ns() - cpu_start;
  size_t nwatches = 0;
  for (size_t i = 0; i < wd_cap; i++) nwatches += wd_path[i] != NULL;
  printf("READY {\"t\":%llu,\"tStart\":%llu,\"cpuUs\":%llu,\"watches\":%zu,\"rssKb\":%llu,\"addWatchErrors\":%llu}\n",
         (unsigned long long)t_ready, (unsigned long long)t_start, (unsigned long long)(cpu_setup / 1000), nwatches,
         (unsigned long long)rss_kb(), (unsigned long long)add_watch_errors);

  static char buf[1 << 20] __attribute__((aligned(__alignof__(struct inotify_event))));
  char line[512];
  size_t line_len = 0;
  size_t last_progress = 0;
  uint64_t next_progress = now_ns() + 1000000000ull;
  struct pollfd pfd[2] = {{.fd = ino_fd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
  for (;;) {
    int n = poll(pfd, 2, 250);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfd[0].revents & POLLIN) {
      for (;;) {
        ssize_t len = read(ino_fd, buf, sizeof buf);
        if (len <= 0) break;
        handle_events(buf, len);
      }
    }
    if (pfd[1].revents & (POLLIN | POLLHUP)) {
      char in[512];
      ssize_t len = read(0, in, sizeof in);
      if (len <= 0) goto stop; /* driver went away */
      for (ssize_t i = 0; i < len; i++) {
        if (in[i] != '\n') {
          if (line_len < sizeof line - 1) line[line_len++] = in[i];
          continue;
        }
        line[line_len] = '\0';
        line_len = 0;
        if (!strncmp(line, "WAIT ", 5)) {
          const char *name = line + 5;
          uint64_t seen = 0;
          for (size_t k = nrecs; k-- > 0;)
            if (!strcmp(names + recs[k].name_off, name)) {
              seen = recs[k].t_ns;
              break;
            }
          if (seen)
            printf("SEEN %s %llu\n", name, (unsigned long long)seen);
          else if (nwaits < 64)
            snprintf(waits[nwaits++], sizeof waits[0], "%s", name);
        } else if (!strcmp(line, "COUNT")) {
          printf("COUNT %zu %llu\n", nrecs, (unsigned long long)(nrecs ? recs[nrecs - 1].t_ns : 0));
        } else if (!strcmp(line, "STOP")) {
          goto stop;
        }
      }
    }
    uint64_t t = now_ns();
    if (t >= next_progress) {
      if (nrecs != last_progress) printf("PROGRESS %zu\n", nrecs);
      last_progress = nrecs;
      next_progress = t + 1000000000ull;
    }
  }
stop:
  close(ino_fd);
  dump(dump_file);
  printf("DONE\n");
  return 0;
}
