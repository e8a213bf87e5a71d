/* SPDX-License-Identifier: BSD-3-Clause */
/* A header that compiled alone in its own unit links here. */
int main(void)
{
	return 0;
}
