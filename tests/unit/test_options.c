/* test_options.c - the PAGESHIM_* parser (shim/options.c), table-driven.
 *
 * Sizes, percentages, bounds, booleans, enums, globs; a malformed value is
 * named in one line and leaves the defaults in place. */
#include "helpers.h"
#include "options.h"

#define GiB (1024ULL * MiB)
#define RAM (8 * GiB) /* the machine size the cases assume */

static void test_parse_size(void)
{
	static const struct {
		const char *text;
		uint64_t ram;
		int ret;
		uint64_t bytes;
	} cases[] = {
		{ "4096", 0, 0, 4096 },
		{ "0", 0, 0, 0 },
		{ "64K", 0, 0, 64 << 10 },
		{ "64k", 0, 0, 64 << 10 },
		{ "16M", 0, 0, 16 * MiB },
		{ "16m", 0, 0, 16 * MiB },
		{ "2G", 0, 0, 2 * GiB },
		{ "1.5G", 0, 0, 3 * GiB / 2 },
		{ "1T", 0, 0, 1024 * GiB },
		{ "64MB", 0, 0, 64 * MiB },
		{ "25%", RAM, 0, RAM / 4 },
		{ "100%", RAM, 0, RAM },
		{ "0.5%", RAM, 0, RAM / 200 },
		{ "25%", 0, -EINVAL, 0 },       /* a percentage needs the RAM size */
		{ "101%", RAM, -EINVAL, 0 },
		{ "", 0, -EINVAL, 0 },
		{ "lots", 0, -EINVAL, 0 },
		{ "-1", 0, -EINVAL, 0 },
		{ "-1M", 0, -EINVAL, 0 },
		{ "12Q", 0, -EINVAL, 0 },
		{ "16M ", 0, -EINVAL, 0 },
		{ "16MM", 0, -EINVAL, 0 },
		{ "M", 0, -EINVAL, 0 },
		{ "99999999999999999999", 0, -EINVAL, 0 },
		{ "20000000T", 0, -EINVAL, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t got = 12345;
		int r = ps_parse_size(cases[i].text, cases[i].ram, &got);
		check(r == cases[i].ret, "ps_parse_size(\"%s\", ram %llu): expected %d, got %d",
		      cases[i].text, U(cases[i].ram), cases[i].ret, r);
		if (r == 0)
			check(got == cases[i].bytes, "ps_parse_size(\"%s\"): expected %llu bytes, got %llu",
			      cases[i].text, U(cases[i].bytes), U(got));
		else
			check(got == 12345, "ps_parse_size(\"%s\") failed but wrote %llu", cases[i].text,
			      U(got));
	}
	check(ps_parse_size(NULL, 0, &(uint64_t){ 0 }) == -EINVAL, "ps_parse_size(NULL): expected -EINVAL");
}

static void test_defaults(void)
{
	struct ps_options o;
	char err[256] = "";
	char *env[] = { "HOME=/root", "PAGESHIM", "PAGESHIM_NOEQUALS", NULL };
	check(ps_options_parse(&o, env, RAM, 0, err, sizeof err) == 0, "defaults: got error \"%s\"", err);
	check(o.cache_size == RAM / 4, "default cache_size: expected %llu, got %llu", U(RAM / 4),
	      U(o.cache_size));
	check(o.min_size == MiB, "default min_size: expected 1 MiB, got %llu", U(o.min_size));
	check(o.handlers == 8, "default handlers: expected 8, got %u", o.handlers);
	check(o.readahead == 64, "default readahead: expected 64, got %u", o.readahead);
	check(o.log == PS_LOG_WARN, "default log: expected warn, got %d", o.log);
	check(o.on_corrupt == PS_CORRUPT_WARN, "default on_corrupt: expected warn, got %d", o.on_corrupt);
	check(!o.disable && !o.test_no_uffd, "default disable/test_no_uffd: expected 0/0, got %d/%d",
	      o.disable, o.test_no_uffd);
	check(!o.include[0] && !o.exclude[0] && !o.stats_file[0],
	      "default include/exclude/stats_file: expected empty, got \"%s\" \"%s\" \"%s\"", o.include,
	      o.exclude, o.stats_file);
	check(ps_options_parse(&o, NULL, RAM, 0, err, sizeof err) == 0, "NULL environment: got \"%s\"", err);

	/* The default budget: a quarter of RAM, at most half a cgroup limit. */
	static const struct { uint64_t ram, limit, want; } budgets[] = {
		{ RAM, 0, RAM / 4 },
		{ RAM, 4 * GiB, 2 * GiB },
		{ RAM, 1 * GiB, 512 * MiB },
		{ RAM, 16 * GiB, RAM / 4 },     /* a limit above RAM changes nothing */
	};
	for (size_t i = 0; i < ARRAY_SIZE(budgets); i++) {
		uint64_t got = ps_default_cache_size(budgets[i].ram, budgets[i].limit);
		check(got == budgets[i].want, "ps_default_cache_size(%llu, %llu): expected %llu, got %llu",
		      U(budgets[i].ram), U(budgets[i].limit), U(budgets[i].want), U(got));
		check(ps_options_parse(&o, (char *[]){ NULL }, budgets[i].ram, budgets[i].limit, err,
				       sizeof err) == 0 && o.cache_size == budgets[i].want,
		      "parse with ram %llu limit %llu: expected cache_size %llu, got %llu",
		      U(budgets[i].ram), U(budgets[i].limit), U(budgets[i].want), U(o.cache_size));
	}
}

/* One variable set to a good value: the field it lands in. */
static void test_good_values(void)
{
	static const struct {
		const char *env;
		size_t off, width;      /* field in struct ps_options */
		uint64_t want;
	} cases[] = {
#define FIELD(f) offsetof(struct ps_options, f), sizeof(((struct ps_options *)0)->f)
		{ "PAGESHIM_CACHE_SIZE=16M", FIELD(cache_size), 16 * MiB },
		{ "PAGESHIM_CACHE_SIZE=25%", FIELD(cache_size), RAM / 4 },
		{ "PAGESHIM_CACHE_SIZE=10%", FIELD(cache_size), RAM / 10 },
		{ "PAGESHIM_CACHE_SIZE=1048576", FIELD(cache_size), MiB },
		{ "PAGESHIM_MIN_SIZE=0", FIELD(min_size), 0 },
		{ "PAGESHIM_MIN_SIZE=1M", FIELD(min_size), MiB },
		{ "PAGESHIM_HANDLERS=1", FIELD(handlers), 1 },
		{ "PAGESHIM_HANDLERS=64", FIELD(handlers), 64 },
		{ "PAGESHIM_READAHEAD=1", FIELD(readahead), 1 },
		{ "PAGESHIM_READAHEAD=4096", FIELD(readahead), 4096 },
		{ "PAGESHIM_DISABLE=1", FIELD(disable), 1 },
		{ "PAGESHIM_DISABLE=yes", FIELD(disable), 1 },
		{ "PAGESHIM_DISABLE=on", FIELD(disable), 1 },
		{ "PAGESHIM_DISABLE=true", FIELD(disable), 1 },
		{ "PAGESHIM_DISABLE=TRUE", FIELD(disable), 1 },
		{ "PAGESHIM_DISABLE=0", FIELD(disable), 0 },
		{ "PAGESHIM_DISABLE=no", FIELD(disable), 0 },
		{ "PAGESHIM_DISABLE=off", FIELD(disable), 0 },
		{ "PAGESHIM_DISABLE=false", FIELD(disable), 0 },
		{ "PAGESHIM_TEST_NO_UFFD=1", FIELD(test_no_uffd), 1 },
		{ "PAGESHIM_TEST_NO_UFFD=Off", FIELD(test_no_uffd), 0 },
		{ "PAGESHIM_LOG=quiet", FIELD(log), PS_LOG_QUIET },
		{ "PAGESHIM_LOG=warn", FIELD(log), PS_LOG_WARN },
		{ "PAGESHIM_LOG=debug", FIELD(log), PS_LOG_DEBUG },
		{ "PAGESHIM_ON_CORRUPT=warn", FIELD(on_corrupt), PS_CORRUPT_WARN },
		{ "PAGESHIM_ON_CORRUPT=sigbus", FIELD(on_corrupt), PS_CORRUPT_SIGBUS },
		{ "PAGESHIM_SIGBUS_REPORT=all", FIELD(sigbus_report), PS_REPORT_ALL },
		{ "PAGESHIM_WRITEBACK=msync", FIELD(writeback), PS_WB_MSYNC },
		{ "PAGESHIM_SLOW_US=0", FIELD(slow_us), 0 },
		{ "PAGESHIM_SLOW_US=250", FIELD(slow_us), 250 },
		{ "PAGESHIM_STACK_SAMPLE=0", FIELD(stack_sample), 0 },
		{ "PAGESHIM_STACK_SAMPLE=1/1", FIELD(stack_sample), 1 },
		{ "PAGESHIM_STACK_SAMPLE=1/64", FIELD(stack_sample), 64 },
#undef FIELD
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ps_options o;
		char err[256] = "";
		char *env[] = { (char *)cases[i].env, NULL };
		int r = ps_options_parse(&o, env, RAM, 0, err, sizeof err);
		check(r == 0, "%s: expected 0, got %d (\"%s\")", cases[i].env, r, err);
		uint64_t got = 0;
		memcpy(&got, (char *)&o + cases[i].off, cases[i].width); /* little-endian */
		check(got == cases[i].want, "%s: expected %llu, got %llu", cases[i].env, U(cases[i].want),
		      U(got));
		const char *eq = strchr(cases[i].env, '=');
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(eq - cases[i].env), cases[i].env);
		check(ps_option_check(name, eq + 1, err, sizeof err) == 0,
		      "ps_option_check(%s, %s): expected 0 (\"%s\")", name, eq + 1, err);
	}

	/* Strings land verbatim; several variables at once all apply. */
	struct ps_options o;
	char err[256] = "";
	char *env[] = { "PAGESHIM_INCLUDE=/data/*:*.db", "PAGESHIM_EXCLUDE=*.tmp",
			"PAGESHIM_STATS_FILE=/tmp/s.%p.json", "PAGESHIM_HANDLERS=2",
			"PAGESHIM_CACHE_SIZE=8M", NULL };
	check(ps_options_parse(&o, env, RAM, 0, err, sizeof err) == 0, "several: got \"%s\"", err);
	check(!strcmp(o.include, "/data/*:*.db"), "include: got \"%s\"", o.include);
	check(!strcmp(o.exclude, "*.tmp"), "exclude: got \"%s\"", o.exclude);
	check(!strcmp(o.stats_file, "/tmp/s.%p.json"), "stats_file: got \"%s\"", o.stats_file);
	check(o.handlers == 2 && o.cache_size == 8 * MiB, "several: expected handlers 2 cache 8M, got %u %llu",
	      o.handlers, U(o.cache_size));
}

/* A malformed value: -EINVAL, one line naming the variable, defaults kept. */
static void test_bad_values(void)
{
	static char long_globs[PS_GLOBS_MAX + 32], long_path[PS_PATH_MAX + 32];
	memcpy(long_globs, "PAGESHIM_INCLUDE=", 17);
	memset(long_globs + 17, 'a', PS_GLOBS_MAX);
	memcpy(long_path, "PAGESHIM_STATS_FILE=", 20);
	memset(long_path + 20, 'a', PS_PATH_MAX);
	const char *cases[] = {
		"PAGESHIM_CACHE_SIZE=lots", "PAGESHIM_CACHE_SIZE=", "PAGESHIM_CACHE_SIZE=-16M",
		"PAGESHIM_CACHE_SIZE=101%", "PAGESHIM_CACHE_SIZE=16X", "PAGESHIM_MIN_SIZE=big",
		"PAGESHIM_HANDLERS=0", "PAGESHIM_HANDLERS=65", "PAGESHIM_HANDLERS=-1",
		"PAGESHIM_HANDLERS=4x", "PAGESHIM_HANDLERS=", "PAGESHIM_HANDLERS=99999999999999999999",
		"PAGESHIM_READAHEAD=0", "PAGESHIM_READAHEAD=4097", "PAGESHIM_DISABLE=maybe",
		"PAGESHIM_DISABLE=", "PAGESHIM_DISABLE=2", "PAGESHIM_TEST_NO_UFFD=sure",
		"PAGESHIM_LOG=loud", "PAGESHIM_LOG=", "PAGESHIM_ON_CORRUPT=panic", long_globs, long_path,
		"PAGESHIM_SIGBUS_REPORT=some", "PAGESHIM_SLOW_US=-1", "PAGESHIM_SLOW_US=60000001",
		"PAGESHIM_STACK_SAMPLE=1/0", "PAGESHIM_STACK_SAMPLE=2/3", "PAGESHIM_STACK_SAMPLE=64",
		"PAGESHIM_STACK_SAMPLE=1/", "PAGESHIM_STACK_SAMPLE=1/-2",
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ps_options o;
		char err[512] = "";
		char name[64];
		const char *eq = strchr(cases[i], '=');
		snprintf(name, sizeof name, "%.*s", (int)(eq - cases[i]), cases[i]);
		/* A good value before the bad one must not survive the error. */
		char *env[] = { "PAGESHIM_HANDLERS=9", "PAGESHIM_MIN_SIZE=0", (char *)cases[i], NULL };
		int r = ps_options_parse(&o, env, RAM, 0, err, sizeof err);
		check(r == -EINVAL, "%.60s: expected -EINVAL, got %d", cases[i], r);
		check(strstr(err, name), "%.60s: expected the message to name %s, got \"%s\"", cases[i],
		      name, err);
		check(err[0] && !strchr(err, '\n'), "%.60s: expected one line, got \"%s\"", cases[i], err);
		check(o.handlers == 8 && o.min_size == MiB && o.cache_size == RAM / 4,
		      "%.60s: expected the defaults after an error, got handlers %u min_size %llu cache %llu",
		      cases[i], o.handlers, U(o.min_size), U(o.cache_size));

		err[0] = 0;
		r = ps_option_check(name, eq + 1, err, sizeof err);
		check(r == -EINVAL && strstr(err, name),
		      "ps_option_check(%s, %.40s): expected -EINVAL naming it, got %d \"%s\"", name, eq + 1,
		      r, err);
	}
	char err[256] = "";
	check(ps_option_check("PAGESHIM_NO_SUCH", "1", err, sizeof err) == -ENOENT,
	      "ps_option_check of an unknown name: expected -ENOENT");
	/* A tiny buffer is truncated, never overrun. */
	char tiny[8];
	memset(tiny, 'x', sizeof tiny);
	struct ps_options o;
	check(ps_options_parse(&o, (char *[]){ "PAGESHIM_LOG=loud", NULL }, RAM, 0, tiny, 4) == -EINVAL &&
	      tiny[3] == 0 && tiny[4] == 'x', "err of 4 bytes: expected \"PAG\" and the rest untouched");
}

static void test_path_selected(void)
{
	static const struct {
		const char *include, *exclude, *path;
		int want;
	} cases[] = {
		{ "", "", "/any/file", 1 },
		{ "/data/*", "", "/data/x.db", 1 },
		{ "/data/*", "", "/other/x.db", 0 },
		{ "*.mdb:/data/*", "", "/srv/db/data.mdb", 1 },
		{ "*.mdb:/data/*", "", "/data/y", 1 },
		{ "*.mdb:/data/*", "", "/srv/y", 0 },
		{ "", "*.tmp", "/data/x.tmp", 0 },
		{ "", "*.tmp", "/data/x.db", 1 },
		{ "", "/a/*:/b/*", "/b/z", 0 },
		{ "/data/*", "*.tmp", "/data/x.tmp", 0 },       /* exclude wins */
		{ "/data/*", "*.tmp", "/data/x.db", 1 },
		{ "::/data/*::", "", "/data/x", 1 },            /* empty globs are skipped */
		{ "::", "", "/data/x", 0 },
		{ "/data/?.db", "", "/data/ab.db", 0 },
		{ "/data/[ab].db", "", "/data/b.db", 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ps_options o;
		memset(&o, 0, sizeof o);
		strcpy(o.include, cases[i].include);
		strcpy(o.exclude, cases[i].exclude);
		int got = ps_options_path_selected(&o, cases[i].path);
		check(got == cases[i].want, "include \"%s\" exclude \"%s\" path %s: expected %d, got %d",
		      cases[i].include, cases[i].exclude, cases[i].path, cases[i].want, got);
	}
}

/* Every %p becomes the pid; a result that does not fit is ENAMETOOLONG,
 * cut and terminated (never a shorter name to open). */
static void test_path_expand(void)
{
	char want[128], got[128], small[8];
	int pid = (int)getpid();
	snprintf(want, sizeof want, "/tmp/a.%d/b.%d.json%%", pid, pid);
	ps_path_expand("/tmp/a.%p/b.%p.json%", got, sizeof got);
	check(!strcmp(got, want), "ps_path_expand: expected \"%s\", got \"%s\"", want, got);
	ps_path_expand("no-pid", got, sizeof got);
	check(!strcmp(got, "no-pid"), "ps_path_expand without %%p: got \"%s\"", got);
	int rc = ps_path_expand("ab%pcdefgh", small, sizeof small);
	check(rc == -ENAMETOOLONG && strlen(small) < sizeof small,
	      "ps_path_expand into %zu bytes: expected -ENAMETOOLONG, got %d (\"%s\")", sizeof small,
	      rc, small);
	rc = ps_path_expand("abcdefgh", small, sizeof small);
	check(rc == -ENAMETOOLONG && !strcmp(small, "abcdefg"),
	      "ps_path_expand of 8 bytes into 8: expected -ENAMETOOLONG, got %d (\"%s\")", rc, small);
	check(ps_path_expand("abcdefg", small, sizeof small) == 0 && !strcmp(small, "abcdefg"),
	      "ps_path_expand of 7 bytes into 8: got \"%s\"", small);
}

static void test_help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	check(f, "open_memstream");
	ps_options_help(f);
	fclose(f);
	static const char *names[] = { "PAGESHIM_CACHE_SIZE", "PAGESHIM_MIN_SIZE", "PAGESHIM_HANDLERS",
		"PAGESHIM_READAHEAD", "PAGESHIM_INCLUDE", "PAGESHIM_EXCLUDE", "PAGESHIM_STATS_FILE",
		"PAGESHIM_DISABLE", "PAGESHIM_LOG", "PAGESHIM_ON_CORRUPT", "PAGESHIM_TEST_NO_UFFD",
		"PAGESHIM_SIGBUS_REPORT", "PAGESHIM_SLOW_US", "PAGESHIM_STACK_SAMPLE" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		check(strstr(text, names[i]), "ps_options_help: expected %s in the text", names[i]);
	free(text);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_parse_size();
	test_defaults();
	test_good_values();
	test_bad_values();
	test_path_selected();
	test_path_expand();
	test_help();
	note("options: all cases pass");
	return 0;
}
