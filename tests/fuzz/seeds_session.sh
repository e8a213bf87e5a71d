#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# seeds_session.sh DIR: a few client sequences for fuzz_broker_session (one
# byte per step: op in the low 3 bits, its argument above; see the target).
set -eu
d=$1
# uid 1000 connects, HELLO (no device, no memory), MEM 2 MiB, hangs up,
# comes back and says HELLO again (its parked session)
printf '\000\001\000\000\002\003\004\000\001\000\000' > "$d/grant-park-again"
# uid 1000 and the group's user, each HELLO with devices and memory
printf '\000\020\001\001\010\011\006\004' > "$d/two-users"
# an unlisted uid, then a listed one that never says HELLO and times out
printf '\030\010\135\001\000\000' > "$d/unlisted-idle"
# a message with two descriptors attached, then MEM before HELLO
printf '\000\003\004\002UDKB\002\001' > "$d/fds-and-order"
