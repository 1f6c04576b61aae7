/* WireGuard keys in their base64 text form (44 characters, one '=' of
 * padding), shared by gatewayctl and edged so genkey/pubkey/genpsk behave like
 * `wg genkey`, `wg pubkey` and `wg genpsk`. */
#ifndef EGRESS_KEY_H
#define EGRESS_KEY_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define KEY_LEN     32
#define KEY_B64_LEN 44 /* without the terminating NUL */

/* Decodes exactly one key; surrounding whitespace is not accepted here.
 * 0 or -EINVAL. */
int key_from_base64(uint8_t key[KEY_LEN], const char *b64);
/* out gets KEY_B64_LEN characters and a NUL. */
void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[KEY_LEN]);
/* Reads a key file: one base64 key, optional trailing whitespace/newline.
 * The file is opened once and everything is judged on that descriptor, so
 * it cannot be swapped between the check and the read; the open does not
 * block (a FIFO without a writer fails at once). *mode (may be NULL) gets
 * the file's permission bits, also on -EINVAL, for the caller's policy on
 * who else may read it. 0, -errno from open/fstat/read, -EISDIR (a
 * directory), -ENODEV (any other file that is not a regular one: a FIFO, a
 * socket, a device) or -EINVAL (not a key). */
int key_read_file(uint8_t key[KEY_LEN], const char *path, mode_t *mode);

/* The subcommands, for a main() to return: 0 on success, 1 with a message on
 * stderr on bad input. genkey writes a new private key; genpsk a random
 * preshared key; pubkey reads a private key from in and writes its public key. */
int key_cmd_genkey(FILE *out);
int key_cmd_genpsk(FILE *out);
int key_cmd_pubkey(FILE *in, FILE *out);

#endif
