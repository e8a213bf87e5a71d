/* SPDX-License-Identifier: BSD-3-Clause */
/* top.h - what udk-top's files share: a telemetry answer parsed by jansson
 * and read through forgiving accessors (answer.c), talking to a process's
 * telemetry socket (client.c) and drawing the view (view.c). */
#ifndef UDK_TOP_H
#define UDK_TOP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "udk-top"

/* ---- answer.c ---- */
#define TOP_CMDS 8
extern const char *const top_cmds[TOP_CMDS]; /* info lcores ports nvme maps devices nvmf
						       vhost_blk */

struct proc {
	char path[108];
	json_t *ans[TOP_CMDS];         /* parsed answers; NULL if missing */
	double t;                      /* when they were taken (monotonic s) */
	bool ok;
};

/* Arrays longer than this are read as this long: a process's answer is not
 * trusted to be small, and the view compares arrays element by element. */
#define TOP_MAX_ITEMS 256

/* One answer line into a tree (jansson: RFC 8259, valid UTF-8, no NUL in
 * strings, nesting bounded); NULL if it is not JSON.  json_decref() frees. */
json_t *top_parse(const char *line, size_t len);
/* Accessors that read a missing member, a wrong type or NULL as empty:
 * NULL, 0 elements, 0, "".  With key NULL, top_num and top_str read n. */
const json_t *top_get(const json_t *obj, const char *key);
const json_t *top_at(const json_t *arr, size_t i);
size_t top_len(const json_t *arr);  /* at most TOP_MAX_ITEMS */
double top_num(const json_t *n, const char *key); /* true: 1 */
const char *top_str(const json_t *n, const char *key);
/* s for a terminal: printable ASCII kept, every other byte (control, DEL,
 * and each UTF-8 sequence) as one '?'; cut to fit out (size > 0).  Returns out. */
char *top_printable(const char *s, char *out, size_t size);
/* Parse the answer to top_cmds[cmd] into p; false if it is not JSON. */
bool top_proc_answer(struct proc *p, int cmd, const char *line, size_t len);
void top_proc_clear(struct proc *p);
const json_t *top_data(const struct proc *p, int cmd); /* the "data" of cmd */
/* p for --json: {"socket":..., "info": data or {"error":...} or null, ...};
 * NULL without memory.  json_decref() frees. */
json_t *top_proc_json(const struct proc *p);


/* Every socket in the telemetry directories (or the one of pid, if pid > 0)
 * into paths; returns how many.  A directory or socket that is not owned
 * by us or root, or that group or others may write, is skipped with one
 * line on stderr (once per path per run). */
size_t top_find(int pid, char (*paths)[108], size_t max);
/* Ask a process every command; false (with a line on stderr unless quiet)
 * if it cannot be reached. */
bool top_query(struct proc *p, const char *path, bool quiet);
double top_now(void);

/* ---- view.c ---- */
enum sort_key { SORT_PID, SORT_BUSY, SORT_TRAFFIC, SORT_NB };
extern const char *const sort_names[SORT_NB];
/* Draw one screen on f from the previous and current samples of n
 * processes (prev[i] may be !ok: rates show as 0).  batch: plain lines,
 * no escape sequence and no cut to rows (stdout is not a terminal, or
 * --batch).  No byte of the processes' answers reaches f unfiltered. */
void top_draw(FILE *f, const struct proc *prev, const struct proc *cur, size_t n,
	      enum sort_key sort, int rows, bool batch);

#endif
