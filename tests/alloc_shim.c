/* tests/alloc_shim.c: LD_PRELOADed into a glibc keepvip by tests/daemon_netns.rs
 * (zero_heap_allocations_after_startup_counted_in_process) to count what the daemon's own
 * counter (src/sys/alloc.rs) cannot see: malloc calls made inside libc.
 *
 * Every malloc-family call of the process goes through here (Rust's allocator included: it
 * calls malloc). Counting starts when the daemon writes its start-up marker ("startup
 * complete") and the totals are written to stderr (the daemon's log) when it writes
 * "] Stopped":
 *
 *   ALLOC_SHIM: after start-up: N malloc calls outside user lookups, M inside L user lookups
 *
 * getpwnam_r/getgrnam_r are wrapped to tell their allocations apart (glibc's NSS opens
 * /etc/passwd with fopen, which mallocs the FILE and its buffer). The backtraces of the
 * first 10 calls outside them are written to stderr too. Children never see this library:
 * keepvip removes every LD_* variable from their environment.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static int armed, busy, in_lookup;
static unsigned long outside, inside, lookups;

typedef int (*pw_fn)(const char *, struct passwd *, char *, size_t, struct passwd **);
typedef int (*gr_fn)(const char *, struct group *, char *, size_t, struct group **);
static pw_fn real_getpwnam_r;
static gr_fn real_getgrnam_r;

__attribute__((constructor)) static void init(void) {
    real_getpwnam_r = (pw_fn)dlsym(RTLD_NEXT, "getpwnam_r");
    real_getgrnam_r = (gr_fn)dlsym(RTLD_NEXT, "getgrnam_r");
}

static void say(const char *s, int n) { syscall(SYS_write, 2, s, (size_t)n); }

static void note(size_t n) {
    if (!armed || busy)
        return;
    if (in_lookup) {
        inside++;
        return;
    }
    outside++;
    if (outside <= 10) {
        char b[160];
        void *f[48];
        busy = 1;
        int k = snprintf(b, sizeof b, "ALLOC_SHIM: malloc #%lu (%zu bytes) after start-up, pid %d:\n",
                         outside, n, (int)getpid());
        say(b, k);
        backtrace_symbols_fd(f, backtrace(f, 48), 2);
        busy = 0;
    }
}

void *malloc(size_t n) { note(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(n); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
    note(n);
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12; /* ENOMEM */
}
void free(void *p) { __libc_free(p); }

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, struct passwd **res) {
    if (armed)
        lookups++;
    in_lookup++;
    int r = real_getpwnam_r(name, pw, buf, len, res);
    in_lookup--;
    return r;
}

int getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, struct group **res) {
    if (armed)
        lookups++;
    in_lookup++;
    int r = real_getgrnam_r(name, gr, buf, len, res);
    in_lookup--;
    return r;
}

ssize_t write(int fd, const void *buf, size_t n) {
    if (fd == 2 && n > 0) {
        if (!armed && memmem(buf, n, "startup complete", 16)) {
            void *f[2];
            busy = 1;
            backtrace(f, 2); /* loads libgcc_s now, not on the first report */
            busy = 0;
            armed = 1;
        } else if (armed && memmem(buf, n, "] Stopped", 9)) {
            char b[160];
            int k = snprintf(b, sizeof b,
                             "ALLOC_SHIM: after start-up: %lu malloc calls outside user lookups, "
                             "%lu inside %lu user lookups\n",
                             outside, inside, lookups);
            say(b, k);
        }
    }
    return syscall(SYS_write, fd, buf, n);
}
