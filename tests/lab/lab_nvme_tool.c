/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab_nvme_tool: udk-nvme (from PATH) against the second lab controller:
 * identify as text and JSON, a file written and read back (a short last
 * block padded with zeros), smart-log and error-log as JSON, the errors for
 * an LBA range past the end and a missing namespace, and format, after which
 * the blocks read as zeros.  Puts the device back on the driver it had.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labjson.h"
#include "labutil.h"

#define FILE_BYTES 100000

static char out[65536], err[8192];

/* Run udk-nvme -a bdf ARGS; its stdout and stderr land in out and err. */
static int tool(const char *bdf, const char *args)
{
	int rc = lab_sh("udk-nvme -a %s %s >tool.out 2>tool.err", bdf, args);
	FILE *f;
	size_t n;

	out[0] = err[0] = '\0';
	if ((f = fopen("tool.out", "r")) != NULL) {
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	if ((f = fopen("tool.err", "r")) != NULL) {
		n = fread(err, 1, sizeof(err) - 1, f);
		err[n] = '\0';
		fclose(f);
	}
	printf("$ udk-nvme -a %s %s  -> exit %d\n%s%s", bdf, args, rc, out, err);
	return rc;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = malloc(1 << 20);

	*len = 0;
	if (f != NULL && b != NULL)
		*len = fread(b, 1, 1 << 20, f);
	if (f != NULL)
		fclose(f);
	return b;
}

int main(void)
{
	char drv[64] = "";
	const char *bdf, *ns;
	unsigned char *a, *b;
	size_t na, nb;
	FILE *f;

	setvbuf(stdout, NULL, _IONBF, 0);
	lab_require_guest();
	bdf = lab_env_require("UDK_LAB_NVME2");
	lab_device_driver(bdf, drv, sizeof(drv));
	REQUIRE(lab_bind_vfio(bdf) == 0);

	/* list (sysfs only): both controllers; the one on vfio-pci with no
	 * namespaces, the kernel's with its two disks (as nvme list). */
	const char *other = getenv("UDK_LAB_NVME");
	char odrv[64] = "";
	CHECK(tool(bdf, "list --json") == 0 && lab_json_valid(out) && strstr(out, bdf) != NULL);
	if (other != NULL) {
		lab_device_driver(other, odrv, sizeof(odrv));
		CHECK(strstr(out, other) != NULL);
	}
	if (strcmp(odrv, "nvme") == 0)
		CHECK(strstr(out, "\"nsid\":2,\"device\":\"/dev/nvme") != NULL &&
		      strstr(out, "\"serial\":\"udk-lab-nvme0\"") != NULL);
	CHECK(tool(bdf, "list") == 0 && strstr(out, "on vfio-pci: its namespaces show only") != NULL);

	CHECK(tool(bdf, "identify") == 0);
	CHECK(strstr(out, "serial      udk-lab-nvme1") != NULL);
	CHECK(strstr(out, "524288 blocks of 512 bytes") != NULL);

	CHECK(tool(bdf, "identify --json") == 0);
	CHECK(lab_json_valid(out));
	CHECK(lab_json_is(out, "serial", "udk-lab-nvme1"));
	CHECK(lab_json_is(out, "bdf", bdf));
	CHECK(lab_json_is(out, "version", "1.4.0"));
	ns = lab_json_index(lab_json_member(out, "namespaces"), 0);
	CHECK(ns != NULL && lab_json_is(ns, "nsid", "1") && lab_json_is(ns, "blocks", "524288") &&
	      lab_json_is(ns, "block_size", "512"));

	f = fopen("in.bin", "wb");
	REQUIRE(f != NULL);
	srand(7);
	for (int i = 0; i < FILE_BYTES; i++)
		fputc(rand() & 0xff, f);
	fclose(f);
	CHECK(tool(bdf, "write --lba 1000 --file in.bin") == 0);
	CHECK(tool(bdf, "read --lba 1000 --count 196 --file out.bin") == 0);
	a = slurp("in.bin", &na);
	b = slurp("out.bin", &nb);
	REQUIRE(a != NULL && b != NULL);
	CHECK_MSG(na == FILE_BYTES && nb == 196 * 512, "sizes %zu and %zu", na, nb);
	CHECK(nb >= na && memcmp(a, b, na) == 0);
	bool pad = true;
	for (size_t i = na; i < nb; i++)
		pad = pad && b[i] == 0;
	CHECK(pad);
	printf("read back %zu bytes: the file's %zu, then zeros: %s\n", nb, na,
	       nb >= na && memcmp(a, b, na) == 0 && pad ? "yes" : "NO");

	CHECK(tool(bdf, "smart-log --json") == 0);
	CHECK(lab_json_valid(out));
	const char *w = lab_json_member(out, "host_write_commands");
	CHECK(w != NULL && atol(w) > 0);
	/* nvme-cli's key names, for scripts written against nvme smart-log -o json */
	static const char *const nvme_cli_keys[] = {"critical_warning", "temperature",
		"avail_spare", "spare_thresh", "percent_used", "data_units_read",
		"controller_busy_time", "num_err_log_entries", "media_errors"};
	for (size_t k = 0; k < sizeof(nvme_cli_keys) / sizeof(nvme_cli_keys[0]); k++)
		CHECK_MSG(lab_json_member(out, nvme_cli_keys[k]) != NULL, "smart-log --json has %s",
			  nvme_cli_keys[k]);
	const char *temp = lab_json_member(out, "temperature");
	CHECK(temp != NULL && atol(temp) > 200); /* Kelvin, as nvme-cli */
	CHECK(tool(bdf, "smart-log") == 0 && strstr(out, "host write commands") != NULL);
	CHECK(tool(bdf, "error-log --json") == 0);
	CHECK(lab_json_valid(out) && lab_json_length(lab_json_member(out, "errors")) >= 0);

	CHECK(tool(bdf, "read --lba 524280 --count 16 --file x.bin") == 1);
	CHECK(strstr(err, "LBA 524280+16 is past the end of namespace 1 (524288 blocks)") != NULL);
	CHECK(tool(bdf, "identify --ns 9") == 1);
	CHECK(strstr(err, "namespace 9 is not active") != NULL);
	CHECK(tool(bdf, "format") == 2 && strstr(err, "add --yes") != NULL);

	CHECK(tool(bdf, "format --yes") == 0);
	CHECK(strstr(out, "namespace 1 formatted: 524288 blocks of 512 bytes") != NULL);
	CHECK(tool(bdf, "read --lba 1000 --count 196 --file out.bin") == 0);
	free(b);
	b = slurp("out.bin", &nb);
	bool zero = b != NULL && nb == 196 * 512;
	for (size_t i = 0; zero && i < nb; i++)
		zero = b[i] == 0;
	printf("after format, LBA 1000+196 reads as zeros: %s\n", zero ? "yes" : "NO");
	CHECK(zero);

	free(a);
	free(b);
	lab_bind(bdf, drv);
	return lab_result();
}
