/* Messages built a line at a time: see msg.h. */
#include "tunnel/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void msg_add(char **msg, const char *sep, const char *fmt, ...)
{
	char *line = NULL, *all = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!*msg) {
		*msg = line;
		return;
	}
	if (asprintf(&all, "%s%s%s", *msg, sep, line) >= 0) {
		free(*msg);
		*msg = all;
	}
	free(line);
}
