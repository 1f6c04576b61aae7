/* Messages built a line at a time: what a long job (a policy apply, a
 * client change) has to say, gathered for one reply or one log line. */
#ifndef EGRESS_MSG_H
#define EGRESS_MSG_H

/* Appends a formatted line to *msg (malloc'd, NULL: empty), after sep when
 * *msg has something already. Out of memory loses the line only. */
void msg_add(char **msg, const char *sep, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
