/* racy_write - another process's write seen between its time stamp and its
 * bytes.
 *
 * A write stamps the file's modification and change times before it copies
 * its bytes in. A reader that takes a lock between the two finds the file
 * changed, reads the page again, and still gets the old bytes; the times
 * then do not change when the bytes land. pageshim must not trust times
 * that recent: the next lock reads the page once more.
 *
 * The window is held open: process B writes page 0 of the file from a
 * buffer of its own registered with userfaultfd, and B's fault thread
 * delays the buffer's page until A says so. A (the test):
 *   1. maps the file MAP_SHARED and reads page 0 (the pattern);
 *   2. lets B write; once B's pwrite has faulted on its buffer (the times
 *      are stamped, no byte copied), takes an fcntl lock on another file
 *      and reads page 0: still the pattern, under both (the write has not
 *      copied anything yet), which shows the window was hit;
 *   3. lets B's write finish, takes the lock again and reads page 0: B's
 *      bytes, as under the kernel.
 * Under pageshim the mapping was managed and the change was noticed
 * (external_modifications). Needs a userfaultfd that handles faults in the
 * kernel (root, or vm.unprivileged_userfaultfd=1): skipped otherwise. */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>

#include "helpers.h"

#define SIZE MiB
#define SEED 23
#define NEW 0xab

static int down[2], up[2];      /* A to B, B to A */

static void say(int fd, char c)
{
	check(write(fd, &c, 1) == 1, "pipe write: %s", strerror(errno));
}

static void expect_word(int fd, char want, const char *what)
{
	char c = 0;
	check(read(fd, &c, 1) == 1 && c == want, "%s: expected '%c' from the other process, got '%c'",
	      what, want, c);
}

struct delayer {
	int uffd;
	uint8_t *buf;
};

/* B's fault thread: waits for the fault on the buffer, tells A, waits for
 * A's word, then puts B's bytes into the buffer. */
static void *delay_fault(void *arg)
{
	struct delayer *d = arg;
	struct pollfd p = { .fd = d->uffd, .events = POLLIN };
	struct uffd_msg msg;
	check(poll(&p, 1, 20000) == 1, "B: no fault on the buffer within 20 s");
	check(read(d->uffd, &msg, sizeof msg) == sizeof msg && msg.event == UFFD_EVENT_PAGEFAULT,
	      "B: reading the fault: %s", strerror(errno));
	say(up[1], 'f');
	expect_word(down[0], 'g', "B, waiting to let the write finish");
	static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
	memset(page, NEW, sizeof page);
	struct uffdio_copy c = { .dst = (uintptr_t)d->buf, .src = (uintptr_t)page, .len = PAGE };
	check(ioctl(d->uffd, UFFDIO_COPY, &c) == 0, "B: UFFDIO_COPY: %s", strerror(errno));
	return NULL;
}

static void writer(const char *path)
{
	struct delayer d;
	d.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API };
	if (d.uffd < 0 || ioctl(d.uffd, UFFDIO_API, &api)) {
		say(up[1], 's');
		printf("userfaultfd for kernel faults: %s\n", strerror(errno));
		_exit(0);
	}
	d.buf = xmmap(PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = { .range = { (uintptr_t)d.buf, PAGE },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	ok(ioctl(d.uffd, UFFDIO_REGISTER, &reg));
	pthread_t t;
	check(pthread_create(&t, NULL, delay_fault, &d) == 0, "B: pthread_create");
	int fd = xopen(path, O_RDWR);
	say(up[1], 'r');
	expect_word(down[0], 'w', "B, waiting to write");
	check(pwrite(fd, d.buf, PAGE, 0) == PAGE, "B: pwrite: %s", strerror(errno));
	pthread_join(t, NULL);
	say(up[1], 'd');
	_exit(0);
}

static void lock_unlock(int fd, const char *what)
{
	DOING(what);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	ok(fcntl(fd, F_SETLKW, &fl));
	fl.l_type = F_UNLCK;
	ok(fcntl(fd, F_SETLK, &fl));
}

int main(void)
{
	t_init(60);
	struct pageshim_stats a, b;
	char *path = tpath("data");
	make_file(path, SIZE, SEED);
	char *lock = tpath("lock");
	make_file(lock, PAGE, 1);
	int lk = xopen(lock, O_RDWR);
	pid_t pid = fork_piped(down, up);
	if (pid == 0)
		writer(path);   /* before any mapping: B has nothing of A's */
	char c = 0;
	check(read(up[0], &c, 1) == 1, "B said nothing");
	if (c == 's') {
		waitpid(pid, NULL, 0);
		skip("B cannot have a userfaultfd that handles kernel faults");
	}
	check(c == 'r', "expected B ready, got '%c'", c);
	stats_get(&a);

	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(SIZE, PROT_READ, MAP_SHARED, fd, 0);
	expect_pattern(m, 0, PAGE, SEED, "1. page 0 before B writes");

	say(down[1], 'w');
	expect_word(up[0], 'f', "B's write faulting on its buffer");
	lock_unlock(lk, "2. the lock taken while B's write is under way");
	expect_pattern(m, 0, PAGE, SEED, "2. page 0 while B's write waits for its buffer");

	say(down[1], 'g');
	expect_word(up[0], 'd', "B's write done");
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "B failed");
	lock_unlock(lk, "3. the lock taken after B's write");
	uint8_t want[PAGE];
	memset(want, NEW, sizeof want);
	expect_bytes(m, want, PAGE, "3. page 0 after B's write and a lock");
	expect_file_is(fd, want, 0, PAGE, "3. the file");
	stats_get(&b);
	expect_managed(&a, &b, 1, "the mapping");
	expect_grew(&a, &b, external_modifications, 1, "B's write");
	note("racy_write: a write seen before its bytes landed is read again at the next lock");
	return 0;
}
