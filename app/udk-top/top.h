/* SPDX-License-Identifier: BSD-3-Clause */
/* top.h - what udk-top's files share: a small JSON tree (json.c), talking to
 * a process's telemetry socket (client.c) and drawing the view (view.c). */
#ifndef UDK_TOP_H
#define UDK_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG "udk-top"

/* ---- json.c: a parsed document; every node points into its text ---- */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	char *key;             /* member name inside an object, else NULL */
	char *str;             /* J_STR: unescaped */
	double num;            /* J_NUM; J_BOOL: 0 or 1 */
	const char *text;      /* the value's text in the document */
	size_t text_len;
	struct jnode *child, *next;
};

/* Parse exactly one value (whitespace around allowed); NULL if malformed
 * or nested past 64 levels.  The text must outlive the tree. */
struct jnode *json_parse(const char *text, size_t len);
void json_free(struct jnode *n);
const struct jnode *json_get(const struct jnode *obj, const char *key); /* NULL if none */
const struct jnode *json_at(const struct jnode *arr, size_t i);
size_t json_len(const struct jnode *arr);
double json_num(const struct jnode *n, const char *key);  /* 0 if missing */
const char *json_str(const struct jnode *n, const char *key); /* "" if missing */

/* ---- client.c ---- */
#define TOP_CMDS 6
extern const char *const top_cmds[TOP_CMDS]; /* info lcores ports nvme maps devices */

struct proc {
	char path[108];
	char *line[TOP_CMDS];          /* the answers, as received */
	struct jnode *ans[TOP_CMDS];   /* parsed; NULL if missing */
	double t;                      /* when they were taken (monotonic s) */
	bool ok;
};

/* Every socket in the telemetry directories (or the one of pid, if pid > 0)
 * into paths; returns how many. */
size_t top_find(int pid, char (*paths)[108], size_t max);
/* Ask a process every command; false (with a line on stderr unless quiet)
 * if it cannot be reached. */
bool top_query(struct proc *p, const char *path, bool quiet);
void top_proc_clear(struct proc *p);
const struct jnode *top_data(const struct proc *p, int cmd); /* the "data" of cmd */
double top_now(void);

/* ---- view.c ---- */
enum sort_key { SORT_PID, SORT_BUSY, SORT_TRAFFIC, SORT_NB };
extern const char *const sort_names[SORT_NB];
/* Draw one screen from the previous and current samples of n processes
 * (prev[i] may be !ok: rates show as 0). */
void top_draw(const struct proc *prev, const struct proc *cur, size_t n, enum sort_key sort,
	      int rows, int cols);

#endif
