/* tool_genscript.c - writes a deterministic, realistic Fountain script for tests and the benchmark.
 *
 *   tool_genscript [--scenes N] [--characters C] [--seed S] [--edit K [--edit-round R]] [--insert K] [--title T]
 *
 * Each scene draws from its own random stream, seeded by (seed, scene number), so --edit K changes scene K's first
 * action sentence and nothing else, and --insert K adds one new scene after scene K while every other scene keeps
 * its bytes; --edit-round R (default 0) gives the R-th different edit of the same sentence, a writer saving the same
 * scene again. Same arguments, same output. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum salt { SALT_SCENE = 1, SALT_EDIT = 2, SALT_INSERT = 3 };

static const char *const first_names[] = {
	"MARA", "TEO", "ILSE", "BARNABY", "DELPHINE", "OSKAR", "RUTH", "JONAH", "PRIYA", "FELIX",
	"AGATHE", "CORMAC", "NELL", "SILAS", "HANNE", "EZRA", "LOTTIE", "RAFE", "MINA", "DUNCAN",
	"OONA", "PERCY", "TOBIAS", "WREN", "IVO", "GRETA", "ABEL", "CLEO", "HUGO", "MARGIT",
};

static const char *const surnames[] = {"VOSS", "KETTLE", "ORME", "BRANDT", "LACEY", "QUILL", "FENWICK", "DROSTE"};

struct place {
	const char *name;
	bool outside;
};

static const struct place places[] = {
	{"HARBOR OFFICE", false}, {"LIGHTHOUSE STAIRS", false}, {"FISH MARKET", true}, {"BOATYARD", true},
	{"CHAPEL ON THE HILL", false}, {"CUSTOMS HOUSE", false}, {"NET LOFT", false}, {"SEA WALL", true},
	{"TIDE POOLS", true}, {"RAILWAY PLATFORM", true}, {"BAKERY", false}, {"DOCTOR'S SURGERY", false},
	{"SCHOOLHOUSE", false}, {"ICE HOUSE", false}, {"PIER", true}, {"TAVERN", false}, {"COUNCIL CHAMBER", false},
	{"ROPE WALK", true}, {"DUNES", true}, {"GREENHOUSE", false}, {"POST OFFICE", false}, {"FERRY DECK", true},
	{"SALT FLATS", true}, {"CANNERY FLOOR", false},
};

static const char *const times[] = {"DAY", "NIGHT", "DAWN", "DUSK", "MORNING", "EVENING", "LATER", "CONTINUOUS"};

static const char *const nouns[] = {
	"ledger", "lantern", "tide table", "rope", "letter", "key", "map", "net", "compass", "photograph",
	"ticket", "coat", "bottle", "knife", "crate", "bell", "oar", "kettle", "envelope", "anchor chain",
};

static const char *const props[] = {"LANTERN", "LEDGER", "REVOLVER", "TELEGRAM", "POCKET WATCH", "SEA CHART"};

static const char *const verbs[] = {
	"folds", "pockets", "studies", "drops", "lifts", "turns over", "hides", "pushes aside", "opens", "wraps up",
};

static const char *const manners[] = {
	"carefully", "without a word", "too quickly", "with shaking hands", "as if it weighs nothing", "slowly",
	"for the third time", "like an apology",
};

static const char *const surfaces[] = {"window", "tin roof", "harbor wall", "shutters", "hull", "skylight"};
static const char *const weather[] = {"Rain hammers", "Wind rattles", "Sleet hisses", "Spray bursts", "Fog presses"};
static const char *const furniture[] = {"table", "counter", "bench", "windowsill", "crate", "desk"};
static const char *const glances[] = {"watches", "avoids looking at", "circles", "waits for", "stares at"};
static const char *const sounds[] = {
	"A gull cries somewhere above the water.", "Far off, a foghorn sounds twice.",
	"The floorboards creak under someone's weight.", "A clock ticks loudly in the silence.",
	"Somewhere a door bangs in the wind.", "The engine of a trawler coughs and dies.",
};
static const char *const adjectives[] = {"wrong", "missing", "soaked", "too light", "older than it looks", "ours"};
static const char *const hours[] = {"six", "half past four", "midnight", "first light", "ten sharp"};
static const char *const parentheticals[] = {"(quietly)", "(beat)", "(not looking up)", "(to no one)", "(sharp)"};
static const char *const breakages[] = {"slips and shatters", "tears in half", "rolls off the edge", "catches fire"};
static const char *const reactions[] = {"freezes", "swears under their breath", "laughs despite everything"};

struct rng {
	uint64_t state;
};

/* splitmix64: small, good enough, and the same on every platform. */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static struct rng rng_for(uint64_t seed, uint64_t scene, enum salt salt)
{
	struct rng r = {seed * 0x100000001B3ull ^ (scene << 8) ^ (uint64_t)salt};
	rng_next(&r);
	return r;
}

static size_t pick(struct rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

#define ANY(r, list) (list)[pick((r), COUNT(list))]

struct cast {
	char **names;     /* cue names, upper case */
	char **spoken;    /* the same names as people say them: "Mara" */
	size_t n;
};

static char *title_case(const char *upper)
{
	char *s = strdup(upper);
	if (!s) {
		perror("tool_genscript");
		exit(1);
	}
	bool start = true;
	for (char *c = s; *c; c++) {
		if (*c >= 'A' && *c <= 'Z' && !start)
			*c = (char)(*c - 'A' + 'a');
		start = *c == ' ';
	}
	return s;
}

static void cast_init(struct cast *c, size_t n)
{
	c->n = n;
	c->names = calloc(n, sizeof(char *));
	c->spoken = calloc(n, sizeof(char *));
	if (!c->names || !c->spoken) {
		perror("tool_genscript");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		char name[64];
		if (i < COUNT(first_names))
			snprintf(name, sizeof(name), "%s", first_names[i]);
		else
			snprintf(name, sizeof(name), "%s %s", first_names[i % COUNT(first_names)],
			         surnames[(i / COUNT(first_names) - 1) % COUNT(surnames)]);
		c->names[i] = strdup(name);
		c->spoken[i] = title_case(name);
		if (!c->names[i] || !c->spoken[i]) {
			perror("tool_genscript");
			exit(1);
		}
	}
}

static void cast_free(struct cast *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->names[i]);
		free(c->spoken[i]);
	}
	free(c->names);
	free(c->spoken);
}

/* Who speaks in one scene: indexes into the cast. */
struct speakers {
	size_t who[3];
	size_t n;
};

static bool has(const struct speakers *sp, size_t who)
{
	for (size_t i = 0; i < sp->n; i++)
		if (sp->who[i] == who)
			return true;
	return false;
}

/* One to three speakers; scene k (1-based, of nscenes) always includes the cast members j with j % nscenes == k-1, so
 * everyone speaks somewhere. */
static struct speakers choose_speakers(struct rng *r, const struct cast *c, size_t k, size_t nscenes)
{
	struct speakers sp = {{0}, 0};
	for (size_t j = k - 1; nscenes && j < c->n && sp.n < 3; j += nscenes)
		sp.who[sp.n++] = j;
	size_t want = 1 + pick(r, 3);
	if (want > c->n)
		want = c->n;
	while (sp.n < want) {
		size_t j = pick(r, c->n);
		if (!has(&sp, j))
			sp.who[sp.n++] = j;
	}
	return sp;
}

static void action_sentence(struct rng *r, const struct cast *c, const struct speakers *sp, char *out, size_t cap)
{
	const char *a = c->names[sp->who[pick(r, sp->n)]];
	const char *b = c->names[sp->who[pick(r, sp->n)]];
	switch (pick(r, 7)) {
	case 0:
		snprintf(out, cap, "%s %s the %s %s.", a, ANY(r, verbs), ANY(r, nouns), ANY(r, manners));
		break;
	case 1:
		snprintf(out, cap, "%s against the %s.", ANY(r, weather), ANY(r, surfaces));
		break;
	case 2:
		snprintf(out, cap, "%s sets the %s on the %s.", a, ANY(r, props), ANY(r, furniture));
		break;
	case 3:
		snprintf(out, cap, "%s", ANY(r, sounds));
		break;
	case 4:
		if (a == b)
			snprintf(out, cap, "%s %s the door.", a, ANY(r, glances));
		else
			snprintf(out, cap, "%s %s %s.", a, ANY(r, glances), b);
		break;
	case 5:
		snprintf(out, cap, "The %s lies on the %s, %s.", ANY(r, nouns), ANY(r, furniture), ANY(r, adjectives));
		break;
	default:
		snprintf(out, cap, "%s studies the %s, then %s it %s.", a, ANY(r, nouns), ANY(r, verbs), ANY(r, manners));
		break;
	}
}

/* The edited first sentence: no ordinary sentence starts this way, so the edit always changes the text. */
static void edited_sentence(struct rng *r, const struct cast *c, const struct speakers *sp, char *out, size_t cap)
{
	snprintf(out, cap, "Without warning, the %s %s, and %s %s.", ANY(r, nouns), ANY(r, breakages),
	        c->names[sp->who[pick(r, sp->n)]], ANY(r, reactions));
}

static void dialogue_sentence(struct rng *r, const struct cast *c, size_t speaker, char *out, size_t cap)
{
	size_t other = pick(r, c->n);
	if (other == speaker)
		other = (other + 1) % c->n;
	switch (pick(r, 9)) {
	case 0:
		snprintf(out, cap, "We move the %s before %s.", ANY(r, nouns), ANY(r, hours));
		break;
	case 1:
		snprintf(out, cap, "%s, you told me the %s was %s.", c->spoken[other], ANY(r, nouns), ANY(r, adjectives));
		break;
	case 2:
		snprintf(out, cap, "I counted every %s twice.", ANY(r, nouns));
		break;
	case 3:
		snprintf(out, cap, "Nobody touches the %s in this town without asking %s.", ANY(r, nouns), c->spoken[other]);
		break;
	case 4:
		snprintf(out, cap, "If the %s is %s, we wait.", ANY(r, nouns), ANY(r, adjectives));
		break;
	case 5:
		snprintf(out, cap, "Then tell me why the %s is %s.", ANY(r, nouns), ANY(r, adjectives));
		break;
	case 6:
		snprintf(out, cap, "The tide turns at %s. Be there.", ANY(r, hours));
		break;
	case 7:
		snprintf(out, cap, "Say that again.");
		break;
	default:
		snprintf(out, cap, "I kept the %s. I kept all of it.", ANY(r, nouns));
		break;
	}
}

/* Writes one scene; edit replaces its first action sentence. */
static void write_scene(struct rng *r, const struct cast *c, const struct speakers *sp, bool edit, struct rng *edit_rng,
                        FILE *out)
{
	const struct place *pl = &places[pick(r, COUNT(places))];
	bool outside = pick(r, 5) == 0 ? !pl->outside : pl->outside;
	fprintf(out, "%s. %s - %s\n\n", outside ? "EXT" : "INT", pl->name, ANY(r, times));

	size_t paragraphs = 2 + pick(r, 3), ncues = 2 + pick(r, 5);
	if (ncues < sp->n)
		ncues = sp->n;
	/* Paragraph 0 opens the scene; the others fall between cues. */
	size_t *after_cue = calloc(paragraphs, sizeof(size_t));
	if (!after_cue) {
		perror("tool_genscript");
		exit(1);
	}
	for (size_t p = 1; p < paragraphs; p++)
		after_cue[p] = 1 + pick(r, ncues);
	bool first_sentence = true;
	size_t cue = 0;
	for (;;) {
		for (size_t p = 0; p < paragraphs; p++) {
			if (after_cue[p] != cue)
				continue;
			size_t sentences = 1 + pick(r, 3);
			for (size_t s = 0; s < sentences; s++) {
				if (s)
					fputc(' ', out);
				char text[512];
				action_sentence(r, c, sp, text, sizeof(text));
				/* The ordinary sentence is drawn even when replaced, so the rest of the scene stays the same. */
				if (first_sentence && edit)
					edited_sentence(edit_rng, c, sp, text, sizeof(text));
				fputs(text, out);
				first_sentence = false;
			}
			fputs("\n\n", out);
		}
		if (cue == ncues)
			break;
		size_t who = cue < sp->n ? sp->who[cue] : sp->who[pick(r, sp->n)];
		size_t style = pick(r, 12);
		fprintf(out, "%s%s\n", c->names[who], style == 0 ? " (V.O.)" : style == 1 ? " (O.S.)" : "");
		if (pick(r, 6) == 0)
			fprintf(out, "%s\n", ANY(r, parentheticals));
		size_t lines = 1 + pick(r, 2);
		for (size_t l = 0; l < lines; l++) {
			if (l)
				fputc(' ', out);
			char text[512];
			dialogue_sentence(r, c, who, text, sizeof(text));
			fputs(text, out);
		}
		fputs("\n\n", out);
		cue++;
	}
	free(after_cue);
}

static void usage(const char *why)
{
	fprintf(stderr,
	        "tool_genscript: %s\n"
	        "usage: tool_genscript [--scenes N] [--characters C] [--seed S] [--edit K [--edit-round R]] [--insert K] "
	        "[--title T]\n",
	        why);
	exit(2);
}

static unsigned long long number(const char *opt, const char *arg)
{
	char *end;
	errno = 0;
	if (!arg || !*arg || *arg == '-')
		usage("an option needs a non-negative number");
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || *end) {
		fprintf(stderr, "tool_genscript: %s: '%s' is not a number\n", opt, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	size_t nscenes = 12, ncharacters = 5, edit = 0, insert = 0, edit_round = 0;
	bool do_insert = false;
	uint64_t seed = 1;
	const char *title = "The Saltmarsh Ledger";
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(opt, "--scenes") == 0)
			nscenes = (size_t)number(opt, arg);
		else if (strcmp(opt, "--characters") == 0)
			ncharacters = (size_t)number(opt, arg);
		else if (strcmp(opt, "--seed") == 0)
			seed = (uint64_t)number(opt, arg);
		else if (strcmp(opt, "--edit") == 0)
			edit = (size_t)number(opt, arg);
		else if (strcmp(opt, "--edit-round") == 0)
			edit_round = (size_t)number(opt, arg);
		else if (strcmp(opt, "--insert") == 0) {
			insert = (size_t)number(opt, arg);
			do_insert = true;
		} else if (strcmp(opt, "--title") == 0) {
			if (!arg)
				usage("--title needs a value");
			title = arg;
		} else {
			usage("unknown option");
		}
		i++;
	}
	if (nscenes == 0 || ncharacters == 0)
		usage("--scenes and --characters must be at least 1");
	if (ncharacters > 3 * nscenes)
		usage("--characters may be at most 3 x --scenes, so that everyone speaks");
	if (edit_round > 200)
		usage("--edit-round R must be at most 200");
	if (edit > nscenes)
		usage("--edit K must name a scene between 1 and --scenes");
	if (do_insert && insert > nscenes)
		usage("--insert K must be between 0 (before the first scene) and --scenes");

	struct cast c;
	cast_init(&c, ncharacters);
	printf("Title: %s\nCredit: Written by\nAuthor: tool_genscript\nDraft date: seed %" PRIu64 "\n\n", title, seed);
	for (size_t k = 0; k <= nscenes; k++) {
		if (k > 0) {
			struct rng r = rng_for(seed, k, SALT_SCENE), er = rng_for(seed, k, edit_round ? (enum salt)(16 + edit_round) : SALT_EDIT);
			struct speakers sp = choose_speakers(&r, &c, k, nscenes);
			write_scene(&r, &c, &sp, k == edit, &er, stdout);
		}
		if (do_insert && k == insert) {
			/* The new scene's speakers come from the cast at random: it owes no one a line. */
			struct rng r = rng_for(seed, k, SALT_INSERT);
			struct speakers sp = choose_speakers(&r, &c, 1, 0);
			write_scene(&r, &c, &sp, false, NULL, stdout);
		}
	}
	cast_free(&c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("tool_genscript: writing the script");
		return 1;
	}
	return 0;
}
