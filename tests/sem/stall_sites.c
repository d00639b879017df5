/* stall_sites - a slow fault names the code that waited for it.
 *
 * A 1 MiB file. Each case runs this program again with its own settings
 * (read once, at load) and PAGESHIM_STATS_FILE, and reads the file's
 * "stall_sites":
 *   slow     PAGESHIM_INJECT delays the read of page 16 by 40 ms, and
 *            PAGESHIM_STACK_SAMPLE=0: exactly one site, count 1, at
 *            offset 65536, at least 40 ms long, its stack starting in this
 *            program's slow_reader and going through run_case;
 *   sampled  PAGESHIM_SLOW_US=0 and PAGESHIM_STACK_SAMPLE=1/1, no delay:
 *            every fault's stack is taken; the sites name sampled_reader
 *            and their counts add up to no more than the faults.
 * Every page is right in both. Under the kernel there is nothing to
 * measure: the pages are checked and the case says so. */
#include "helpers.h"

#define NP 256
#define LEN (NP * PAGE)
#define SEED 43

__attribute__((noinline)) static uint64_t slow_reader(const uint8_t *m)
{
	return *(volatile const uint64_t *)(m + 16 * PAGE);
}

__attribute__((noinline)) static uint64_t sampled_reader(const uint8_t *m)
{
	uint64_t s = 0;
	for (size_t p = 0; p < NP; p += 8)
		s += *(volatile const uint64_t *)(m + p * PAGE);
	return s;
}

__attribute__((noinline)) static int run_case(const char *name, const char *path)
{
	int fd = xopen(path, O_RDONLY);
	uint8_t *m = xmmap(LEN, PROT_READ, MAP_SHARED, fd, 0);
	check(slow_reader(m) == pat_word(16 * PAGE, SEED), "%s: page 16", name);
	if (!strcmp(name, "sampled"))
		sampled_reader(m);
	expect_pattern(m, 0, LEN, SEED, name);
	return 0;
}

/* The number after "key": in text, or -1. */
static long long json_number(const char *text, const char *key)
{
	char k[64];
	snprintf(k, sizeof k, "\"%s\": ", key);
	const char *p = strstr(text, k);
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
	t_init(60);
	if (argc == 3)
		return run_case(argv[1], argv[2]);
	char *path = tpath("data");
	make_file(path, LEN, SEED);
	static const struct { const char *name; const char *env[3]; } cases[] = {
		{ "slow", { "PAGESHIM_INJECT=delay:40,file=*data,offset=64K-68K", "PAGESHIM_STACK_SAMPLE=0" } },
		{ "sampled", { "PAGESHIM_SLOW_US=0", "PAGESHIM_STACK_SAMPLE=1/1" } },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *json = tpath("%s.json", cases[i].name);
		unlink(json);
		fflush(stdout);
		pid_t pid = fork();
		check(pid >= 0, "fork: %s", strerror(errno));
		if (pid == 0) {
			setenv("PAGESHIM_STATS_FILE", json, 1);
			for (int e = 0; cases[i].env[e]; e++)
				putenv((char *)cases[i].env[e]);
			execl("/proc/self/exe", argv[0], cases[i].name, path, (char *)NULL);
			_exit(127);
		}
		int status;
		check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "case %s failed (status %#x)", cases[i].name, status);
		if (!T.shim) {
			note("%s: kernel: every page right; no stall sites to look at", cases[i].name);
			continue;
		}
		char *text = read_text(json), *sites = strstr(text, "\"stall_sites\": [");
		check(sites, "%s: no stall_sites in %s: %s", cases[i].name, json, text);
		int n = 0;
		long long counted = 0;
		for (const char *s = sites; (s = strstr(s, "{\"count\": ")); s++, n++)
			counted += json_number(s, "count");
		if (!strcmp(cases[i].name, "slow")) {
			check(n == 1 && json_number(sites, "count") == 1 &&
			      json_number(sites, "offset_min") == 16 * PAGE &&
			      json_number(sites, "max_us") >= 40000 && strstr(sites, path) &&
			      strstr(sites, "\"stack\": [\"slow_reader") && strstr(sites, "run_case+"),
			      "slow: expected one site of 40 ms or more at offset 65536 of %s, its stack "
			      "from slow_reader through run_case: %s", path, sites);
		} else {
			long long faults = json_number(text, "faults");
			check(n >= 1 && counted >= 1 && counted <= faults && strstr(sites, "sampled_reader"),
			      "sampled: expected sites naming sampled_reader, counting 1 to %lld faults, "
			      "got %d sites counting %lld: %s", faults, n, counted, sites);
		}
		note("%s: %d site(s), %lld stack(s)", cases[i].name, n, counted);
		free(text);
	}
	return 0;
}
