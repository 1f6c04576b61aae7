/* libFuzzer target for gateway.yaml and edge.yaml: any input is parsed as
 * both, and must give a config or one error line, never a crash or a leak.
 * edge/config.c is included (as wireguard-tools' fuzzers do) so that it is
 * built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: host names then fail
 * instead of sending DNS queries. Key files named gateway.key, edge.key and
 * a.psk are written to a temporary working directory so that the fuzzer
 * can get past private_key_file. */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION 1
#endif
#include "edge/config.c"

#include <stdio.h>
#include <unistd.h>

#include "gateway/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/fuzz_config.XXXXXX";

	if (!mkdtemp(dir) || chdir(dir) < 0)
		return 0;
	put("gateway.key", "ERERERERERERERERERERERERERERERERERERERERERE=\n");
	put("edge.key", "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n");
	put("a.psk", "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_config *g = NULL;
	struct edge_config *e = NULL;
	char err[256];

	if (gw_config_parse("fuzz.yaml", (const char *)data, size, &g, err, sizeof(err)) == 0)
		gw_config_free(g);
	else if (!memchr(err, '\0', sizeof(err)))
		__builtin_trap(); /* the message must be a terminated string */
	if (edge_config_parse("fuzz.yaml", (const char *)data, size, &e, err, sizeof(err)) == 0)
		edge_config_free(e);
	else if (!memchr(err, '\0', sizeof(err)))
		__builtin_trap();
	return 0;
}
