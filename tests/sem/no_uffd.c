/* no_uffd - without userfaultfd the library steps aside and all still works.
 *
 * Run under pageshim with PAGESHIM_TEST_NO_UFFD=1 (tests/prog/nonroot.sh
 * also runs it as an unprivileged user, where userfaultfd is refused for
 * real, and tests/prog/bad_config.sh with malformed settings). Mappings of
 * every kind work, the kernel can read them (write(2) from an untouched
 * page), and the stats show a library that serves nothing: active 0,
 * mappings_managed 0, and (unless --any-passthrough: a configuration error
 * may stop the library before it counts) mappings_passthrough grown. The
 * runner checks the single warning line on stderr. */
// pageshim-env: PAGESHIM_TEST_NO_UFFD=1
// pageshim-stderr: 1
#include "helpers.h"

#define NP 64
#define LEN (NP * PAGE)
#define SEED 13

int main(int argc, char **argv)
{
	int any_passthrough = argc > 1 && !strcmp(argv[1], "--any-passthrough");
	t_init(60);
	char *path = tpath("data");
	make_file(path, LEN - 100, SEED);
	static const struct { int prot, flags; const char *name; } kinds[] = {
		{ PROT_READ, MAP_SHARED, "MAP_SHARED" },
		{ PROT_READ, MAP_PRIVATE, "MAP_PRIVATE" },
		{ PROT_READ | PROT_WRITE, MAP_PRIVATE, "MAP_PRIVATE|PROT_WRITE" },
	};
	struct pageshim_stats a, b;
	stats_get(&a);
	int pfd[2];
	ok(pipe2(pfd, O_CLOEXEC));
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		int fd = xopen(path, O_RDONLY);
		uint8_t *p = xmmap(LEN + PAGE, kinds[k].prot, kinds[k].flags, fd, 0);
		ok(close(fd));
		uint8_t got[2 * PAGE];
		check(write(pfd[1], p + 10 * PAGE, 2 * PAGE) == 2 * PAGE, "%s: write(pipe) from the mapping: %s",
		      kinds[k].name, strerror(errno));
		check(read(pfd[0], got, sizeof got) == sizeof got, "read the pipe");
		expect_pattern(got, 10 * PAGE, 2 * PAGE, SEED, kinds[k].name);
		expect_pattern(p, 0, LEN - 100, SEED, kinds[k].name);
		expect_zero(p + LEN - 100, 100, kinds[k].name);
		expect_signal(p + LEN + 5, 0, SIGBUS, BUS_ADRERR, kinds[k].name);
		if (kinds[k].prot & PROT_WRITE) {
			memset(p, 0x5a, PAGE);
			check(p[PAGE - 1] == 0x5a, "%s: private write lost", kinds[k].name);
		}
		ok(munmap(p, LEN + PAGE));
	}
	stats_get(&b);
	stats_print("end", &b);
	if (T.shim) {
		check(b.active == 0, "expected active 0 (no userfaultfd), got %d", b.active);
		check(b.mappings_managed == 0, "expected mappings_managed 0, got %llu", U(b.mappings_managed));
		check(b.mappings_live == 0, "expected mappings_live 0, got %llu", U(b.mappings_live));
		if (!any_passthrough)
			check(b.mappings_passthrough - a.mappings_passthrough >= ARRAY_SIZE(kinds),
			      "expected mappings_passthrough to grow by >= %zu, got %llu -> %llu",
			      ARRAY_SIZE(kinds), U(a.mappings_passthrough), U(b.mappings_passthrough));
	}
	note("%zu mappings right through the kernel%s", ARRAY_SIZE(kinds),
	     T.shim ? "; the library served none" : "");
	return 0;
}
