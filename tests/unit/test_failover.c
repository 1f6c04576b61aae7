/* edge/failover.c on a clock of its own: a gateway that answers is kept, one
 * that goes silent while edged sends is left after failover_after, one that
 * never answers after the hold time, which doubles per round while all are
 * down (up to 8 times); preempt probes the earlier gateways and goes back
 * after the hold-down and a second answer, sticky never does; one gateway
 * never moves. */
#include "check.h"
#include "edge/failover.h"

#define S 1000000000ull

struct sim {
	struct fo fo;
	uint64_t now;
	struct fo_peer a, p; /* the active peer's counters, the probe's */
	bool probe;          /* a probe peer exists */
	size_t probed;
	bool a_answers, p_answers, sending;
};

/* One tick a second later, as edged's peers would count: a new peer starts
 * at zero; an answering active peer answers what is sent. */
static enum fo_action step(struct sim *s, size_t *to)
{
	enum fo_action act;

	s->now += S;
	if (s->sending)
		s->a.tx_packets++;
	if (s->a_answers) {
		if (!s->a.handshakes)
			s->a.handshakes = 1;
		s->a.last_rx_ns = s->now;
		s->a.unanswered = 0;
	} else if (s->sending && s->now % (5 * S) == 0) {
		s->a.unanswered++; /* WireGuard initiates when there is something to send */
	}
	act = fo_tick(&s->fo, s->now, &s->a, s->probe ? &s->p : NULL, to);
	switch (act) {
	case FO_SWITCH:
	case FO_FAILBACK:
		s->a = (struct fo_peer){0};
		s->probe = false;
		break;
	case FO_PROBE: /* a new probe peer */
		s->p = (struct fo_peer){0};
		s->probe = true;
		s->probed = *to;
		if (s->p_answers)
			s->p.handshakes++;
		break;
	case FO_PROBE_AGAIN:
		CHECK(s->probe && s->probed == *to);
		if (s->p_answers)
			s->p.handshakes++;
		break;
	case FO_PROBE_END:
		s->probe = false;
		break;
	case FO_STAY:
		break;
	}
	return act;
}

/* Ticks until an action other than FO_STAY (at most max): the seconds it
 * took, the action in *act. */
static unsigned until(struct sim *s, unsigned max, enum fo_action *act, size_t *to)
{
	for (unsigned i = 1; i <= max; i++) {
		*act = step(s, to);
		if (*act != FO_STAY)
			return i;
	}
	*act = FO_STAY;
	return 0;
}

static void test_answering_kept(void)
{
	struct sim s = {.a_answers = true, .sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, false, s.now);
	CHECK_INT(until(&s, 300, &act, &to), 0);
	CHECK_INT(s.fo.active, 0);
	/* idle and silent: nothing to judge it by, kept */
	s.a_answers = false;
	s.sending = false;
	CHECK_INT(until(&s, 300, &act, &to), 0);
}

static void test_silent_while_sending(void)
{
	struct sim s = {.a_answers = true, .sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, true, s.now);
	CHECK_INT(until(&s, 20, &act, &to), 0);
	s.a_answers = false; /* killed; edged goes on sending */
	CHECK_INT(until(&s, 30, &act, &to), 15);
	CHECK_INT(act, FO_SWITCH);
	CHECK_INT(to, 1);
	CHECK_INT(s.fo.active, 1);
}

/* One exchange answered between two ticks, then silence: an idle tunnel,
 * never judged (the answer came after the tick before the request was
 * seen). */
static void test_quick_answer(void)
{
	struct sim s = {.a_answers = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, false, s.now);
	CHECK_INT(until(&s, 5, &act, &to), 0);
	s.a_answers = false;
	s.a.tx_packets++;                 /* a DNS query... */
	s.a.last_rx_ns = s.now + S / 100; /* ...answered 10 ms later */
	CHECK_INT(until(&s, 100, &act, &to), 0);
	CHECK_INT(s.fo.active, 0);
}

/* A gateway that never answers is left only after three initiations, even
 * when failover_after is shorter than they take. */
static void test_three_tries(void)
{
	struct sim s = {.now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 5, false, s.now);
	s.a.unanswered = 1;
	CHECK_INT(until(&s, 8, &act, &to), 0); /* 8 s, past the hold time */
	s.a.unanswered = 3;
	CHECK_INT(until(&s, 1, &act, &to), 1);
	CHECK_INT(act, FO_SWITCH);
}

static void test_rekeys_unanswered(void)
{
	struct sim s = {.a_answers = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 3, 15, true, s.now);
	CHECK_INT(until(&s, 20, &act, &to), 0);
	s.a_answers = false;
	s.a.unanswered = 2;
	CHECK_INT(until(&s, 2, &act, &to), 0);
	s.a.unanswered = 3; /* the third initiation without an answer */
	CHECK_INT(until(&s, 1, &act, &to), 1);
	CHECK_INT(act, FO_SWITCH);
	CHECK_INT(to, 1);
}

static void test_backoff(void)
{
	static const unsigned want[] = {15, 15, 30, 30, 60, 60, 120, 120, 120, 120};
	struct sim s = {.sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, false, s.now);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_INT(until(&s, 200, &act, &to), want[i]);
		CHECK_INT(act, FO_SWITCH);
		CHECK_INT(to, (i + 1) % 2);
	}
	/* one answers: the hold time is failover_after again */
	s.a_answers = true;
	CHECK_INT(until(&s, 10, &act, &to), 0);
	CHECK_INT(fo_hold_ns(&s.fo), 15 * S);
}

static void test_preempt(void)
{
	struct sim s = {.sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;
	unsigned t;

	fo_init(&s.fo, 3, 15, false, s.now);
	CHECK_INT(until(&s, 20, &act, &to), 15); /* gateway 1 is down */
	CHECK_INT(to, 1);
	s.a_answers = true; /* gateway 2 answers */
	/* at once a probe of gateway 1, again every 15 s while it is silent */
	CHECK_INT(until(&s, 5, &act, &to), 1);
	CHECK_INT(act, FO_PROBE);
	CHECK_INT(to, 0);
	CHECK_INT(until(&s, 20, &act, &to), 15);
	CHECK_INT(act, FO_PROBE);
	CHECK_INT(to, 0);
	/* it answers: the hold-down, a second answer, then back to it */
	s.p_answers = true;
	CHECK_INT(until(&s, 20, &act, &to), 15);
	CHECK_INT(act, FO_PROBE);
	t = until(&s, 40, &act, &to);
	CHECK(t >= 30 && t <= 31);
	CHECK_INT(act, FO_PROBE_AGAIN); /* the confirmation */
	CHECK_INT(until(&s, 5, &act, &to), 1);
	CHECK_INT(act, FO_FAILBACK);
	CHECK_INT(to, 0);
	CHECK_INT(s.fo.active, 0);
	/* on the first gateway nothing is probed */
	CHECK_INT(until(&s, 100, &act, &to), 0);
}

static void test_preempt_goes_again(void)
{
	struct sim s = {.sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, false, s.now);
	CHECK_INT(until(&s, 20, &act, &to), 15);
	s.a_answers = true;
	s.p_answers = true;
	CHECK_INT(until(&s, 5, &act, &to), 1); /* the probe, answered */
	s.p_answers = false;                   /* it goes again */
	CHECK_INT(until(&s, 40, &act, &to), 31);
	CHECK_INT(act, FO_PROBE_AGAIN); /* the confirmation, unanswered: no failback */
	CHECK_INT(until(&s, 20, &act, &to), 15);
	CHECK_INT(act, FO_PROBE); /* probing starts over, on a new peer */
	/* whose old handshakes do not count: the hold-down needs new ones */
	CHECK_INT(until(&s, 40, &act, &to), 15);
	CHECK_INT(act, FO_PROBE);
	CHECK_INT(s.fo.active, 1);
}

static void test_sticky(void)
{
	struct sim s = {.sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 2, 15, true, s.now);
	CHECK_INT(until(&s, 20, &act, &to), 15);
	s.a_answers = true;
	s.p_answers = true;
	CHECK_INT(until(&s, 300, &act, &to), 0);
	CHECK_INT(s.fo.active, 1);
}

static void test_one_gateway(void)
{
	struct sim s = {.sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 1, 15, false, s.now);
	CHECK_INT(until(&s, 600, &act, &to), 0);
}

/* A SIGHUP keeping the gateway in use at a new place in a longer list. */
static void test_keep(void)
{
	struct sim s = {.a_answers = true, .sending = true, .now = 1000 * S};
	enum fo_action act;
	size_t to;

	fo_init(&s.fo, 1, 15, false, s.now);
	CHECK_INT(until(&s, 10, &act, &to), 0);
	fo_keep(&s.fo, 2, 15, false, 1, s.now);
	CHECK_INT(s.fo.active, 1);
	CHECK(s.fo.up);
	CHECK_INT(until(&s, 5, &act, &to), 1);
	CHECK_INT(act, FO_PROBE); /* now an earlier one is listed */
	CHECK_INT(to, 0);
}

int main(void)
{
	test_answering_kept();
	test_silent_while_sending();
	test_quick_answer();
	test_three_tries();
	test_rekeys_unanswered();
	test_backoff();
	test_preempt();
	test_preempt_goes_again();
	test_sticky();
	test_one_gateway();
	test_keep();
	return check_done("test_failover");
}
