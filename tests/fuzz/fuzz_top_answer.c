/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_top_answer: libFuzzer target for what udk-top does with the answers a
 * process's telemetry socket sent (app/udk-top/answer.c, view.c): parse them
 * (jansson), draw the screen from two samples, build the --json snapshot.
 * The first byte picks the sort key; the rest is up to twelve lines, the six
 * answers of the previous sample, then the six of the current one.  Beyond
 * not crashing (ASan, UBSan): the batch screen is printable ASCII and
 * newlines only, the terminal screen holds no escape sequence but udk-top's
 * own, and the snapshot is JSON that parses back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "top.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The screen in a new buffer (free it), its length in *len. */
static char *draw(const struct proc *prev, const struct proc *cur, enum sort_key sort,
		  bool batch, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		abort();
	top_draw(f, prev, cur, 1, sort, 40, batch);
	fclose(f);
	return buf;
}

static bool ours(const char *p, size_t left)
{
	static const char *const seqs[] = {"\x1b[H", "\x1b[1m", "\x1b[7m", "\x1b[0m", "\x1b[K",
					   "\x1b[J"};

	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		if (left >= strlen(seqs[i]) && memcmp(p, seqs[i], strlen(seqs[i])) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc s[2];
	const char *p, *end;
	enum sort_key sort;
	json_t *snap, *back;
	char *text;
	size_t len;

	if (size < 1)
		return 0;
	sort = (enum sort_key)(data[0] % SORT_NB);
	p = (const char *)data + 1;
	end = (const char *)data + size;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 2 * TOP_CMDS && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		top_proc_answer(&s[i / TOP_CMDS], i % TOP_CMDS, p, n);
		p += n + 1;
	}
	snprintf(s[0].path, sizeof(s[0].path), "/run/udk/fuzz.1.sock");
	snprintf(s[1].path, sizeof(s[1].path), "/run/udk/fuzz.1.sock");
	s[0].t = 1.0;
	s[1].t = 2.0;

	text = draw(&s[0], &s[1], sort, true, &len);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] > 0x7e))
			abort(); /* a byte of the answers reached the screen raw */
	free(text);
	text = draw(&s[0], &s[1], sort, false, &len);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] > 0x7e) &&
		    !(text[i] == 0x1b && ours(text + i, len - i)))
			abort();
	free(text);

	snap = top_proc_json(&s[1]);
	if (snap != NULL) {
		text = json_dumps(snap, JSON_COMPACT);
		if (text == NULL || (back = json_loads(text, 0, NULL)) == NULL)
			abort(); /* the snapshot udk-top prints must be JSON */
		json_decref(back);
		free(text);
		json_decref(snap);
	}
	top_proc_clear(&s[0]);
	top_proc_clear(&s[1]);
	return 0;
}
