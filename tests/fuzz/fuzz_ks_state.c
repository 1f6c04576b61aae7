/* libFuzzer target for edge/killswitch.c's state file parser: any bytes.
 * Never a crash; what it takes has a positive pid and a src_valid_mark of
 * "", "0" or "1". */
#include <stdint.h>
#include <string.h>

#include "edge/killswitch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ks_state s;

	if (ks_state_parse((const char *)data, size, &s) == 0 &&
	    (s.pid <= 0 || (strcmp(s.src_valid_mark, "") && strcmp(s.src_valid_mark, "0") &&
	                    strcmp(s.src_valid_mark, "1"))))
		__builtin_trap();
	return 0;
}
