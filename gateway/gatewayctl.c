/* gatewayctl: the operator's command line. A table of commands, matched
 * exactly. */
#include <stdio.h>
#include <string.h>

#include "tunnel/key.h"

static int cmd_genkey(int argc, char **argv)
{
	return key_cmd_genkey(stdout);
}

static int cmd_genpsk(int argc, char **argv)
{
	return key_cmd_genpsk(stdout);
}

static int cmd_pubkey(int argc, char **argv)
{
	return key_cmd_pubkey(stdin, stdout);
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
        {"genkey", cmd_genkey, "print a new private key (base64), like `wg genkey`"},
        {"genpsk", cmd_genpsk, "print a new preshared key, like `wg genpsk`"},
        {"pubkey", cmd_pubkey, "read a private key on stdin, print its public key"},
        {"help", cmd_help, "this help"},
};

static int cmd_help(int argc, char **argv)
{
	printf("usage: gatewayctl COMMAND\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].help);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "gatewayctl: unknown command \"%s\" (try gatewayctl help)\n", argv[1]);
	return 1;
}
