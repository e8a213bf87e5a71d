/* SPDX-License-Identifier: BSD-3-Clause */
/* labnvmf.c - helpers of the udk-nvmf-tgt lab tests (labnvmf.h). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "labnvmf.h"
#include "labrun.h"
#include "labutil.h"

void lab_nvmf_disks(char *buf, size_t len)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;

	buf[0] = '\0';
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (!strncmp(e->d_name, "nvme", 4) && strchr(e->d_name + 4, 'n') != NULL &&
		    strchr(e->d_name + 4, 'c') == NULL &&
		    strlen(buf) + strlen(e->d_name) + 2 < len) {
			strcat(buf, e->d_name);
			strcat(buf, " ");
		}
	closedir(d);
}

/* Wait for /dev/name to be a block device that opens. */
static int node_ready(const char *name)
{
	char dev[80];
	struct stat st;

	/* Wait for the node (devtmpfs, then udev): a program opening it
	 * before would make a regular file there. */
	snprintf(dev, sizeof(dev), "/dev/%s", name);
	for (int j = 0; j < 100 && (stat(dev, &st) != 0 || !S_ISBLK(st.st_mode)); j++)
		usleep(100000);
	if (stat(dev, &st) != 0 || !S_ISBLK(st.st_mode))
		return -1;
	/* The node can exist before the disk opens (ENXIO). */
	for (int j = 0; j < 100; j++) {
		int fd = open(dev, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			usleep(300000); /* let udev finish with it */
			return 0;
		}
		usleep(100000);
	}
	return -1;
}

int lab_nvmf_new_disk(const char *before, char *name, size_t len)
{
	char now[1024], *p, *save = NULL;

	for (int i = 0; i < 300; i++) {
		lab_nvmf_disks(now, sizeof(now));
		for (p = strtok_r(now, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
			char w[64];

			snprintf(w, sizeof(w), "%s ", p);
			if (strstr(before, w) == NULL) {
				snprintf(name, len, "%s", p);
				return node_ready(p);
			}
		}
		usleep(100000);
	}
	return -1;
}

int lab_nvmf_disk_of_size(const char *before, const char *sectors, char *disk, size_t len)
{
	char now[1024], *p, *save = NULL;

	lab_nvmf_disks(now, sizeof(now));
	for (p = strtok_r(now, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
		char w[64], path[128], sz[32] = "";

		snprintf(w, sizeof(w), "%s ", p);
		snprintf(path, sizeof(path), "/sys/block/%s/size", p);
		if (strstr(before, w) == NULL && lab_read_file(path, sz, sizeof(sz)) == 0 && !strcmp(sz, sectors)) {
			snprintf(disk, len, "%s", p);
			return 0;
		}
	}
	return -1;
}

int lab_nvmf_wait_log(const char *log, const char *text, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		FILE *f = fopen(log, "r");
		char line[1024];
		int found = 0;

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			found |= strstr(line, text) != NULL;
		if (f != NULL)
			fclose(f);
		if (found)
			return 0;
		usleep(100000);
	}
	return -1;
}

void lab_nvmf_check_dropped(const char *gone, const char *stayed, const char *pattern)
{
	char path[128], out[4096];
	int i;

	snprintf(path, sizeof(path), "/sys/block/%s", gone);
	for (i = 0; i < 300 && access(path, F_OK) == 0; i++)
		usleep(100000);
	CHECK_MSG(access(path, F_OK) != 0, "the kernel kept /dev/%s after the namespace-changed AEN", gone);
	snprintf(path, sizeof(path), "/sys/block/%s", stayed);
	CHECK_MSG(access(path, F_OK) == 0, "the kernel dropped /dev/%s, the namespace that stayed", stayed);
	CHECK_MSG(lab_run(out, sizeof(out), "dd if=/dev/%s of=/tmp/labnvmf.back bs=1M count=8 iflag=direct && "
			  "cmp %s /tmp/labnvmf.back", stayed, pattern) == 0,
		  "/dev/%s after the other namespace went: the pattern does not read back", stayed);
	lab_sh("dmesg | grep -i nvme | tail -8");
}

int lab_nvmf_stop(pid_t pid)
{
	int st = -1;

	kill(pid, SIGINT);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}
