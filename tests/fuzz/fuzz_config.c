/* libFuzzer target for gateway.yaml and edge.yaml: any input is parsed as
 * both, and must give a config or one error line, never a crash or a leak.
 *
 * The two config.c files are included (as wireguard-tools' fuzzers do):
 * edge/config.c is then built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
 * so host names fail instead of sending DNS queries, and the inputs can also
 * be parsed with relative key paths taken from a directory holding
 * gateway.key, edge.key and a.psk, so the fuzzer gets past private_key_file
 * without this process changing its working directory (where libFuzzer
 * writes its corpus and crash files). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION 1
#endif
#include "edge/config.c"
#include "gateway/config.c"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char key_dir[] = "/tmp/fuzz_config.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[sizeof(key_dir) + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", key_dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
		chmod(path, 0600); /* as a key file should be: no warning per input */
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(key_dir))
		return 0;
	put("gateway.key", "ERERERERERERERERERERERERERERERERERERERERERE=\n");
	put("edge.key", "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n");
	put("a.psk", "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n");
	return 0;
}

/* The message of a failed parse is one terminated line. */
static void check_err(const char *err, size_t size)
{
	if (!memchr(err, '\0', size) || strchr(err, '\n'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct edge_config *e = NULL;
	struct gw_config *g = NULL;
	struct conf *c = NULL;
	char err[256];

	/* The public entry points, key paths relative to the working directory. */
	if (gw_config_parse("fuzz.yaml", buf, size, &g, err, sizeof(err)) == 0)
		gw_config_free(g);
	else
		check_err(err, sizeof(err));
	if (edge_config_parse("fuzz.yaml", buf, size, &e, err, sizeof(err)) == 0)
		edge_config_free(e);
	else
		check_err(err, sizeof(err));

	/* Once more next to the key files, to reach past them. */
	if (conf_load_buffer(&c, "fuzz.yaml", key_dir, buf, size, err, sizeof(err)) < 0)
		return 0;
	g = NULL;
	if (gw_parse(c, 0, &g) == 0)
		gw_config_free(g);
	else
		check_err(err, sizeof(err));
	e = NULL;
	if (edge_parse(c, NULL, &e) == 0)
		edge_config_free(e);
	else
		check_err(err, sizeof(err));
	conf_free(c);
	return 0;
}
