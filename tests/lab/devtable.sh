#!/bin/sh
# The table `udk-devbind status` prints, from sysfs alone: NVMe controllers
# and network devices with their driver and IOMMU group.  A stand-in for the
# lab demo (scripts/demo.sh) until app/udk-devbind exists.
name() {
	case "$1" in
	1b36:0010) echo "QEMU NVM Express controller" ;;
	1af4:1041) echo "virtio 1.0 network device" ;;
	1af4:1000) echo "virtio network device (transitional)" ;;
	8086:10d3) echo "Intel 82574L Gigabit (e1000e)" ;;
	8086:100e) echo "Intel 82540EM Gigabit (e1000)" ;;
	*) echo "PCI device $1" ;;
	esac
}
printf '%-13s %-10s %-5s %-10s %-6s %-7s %s\n' ADDRESS ID KIND DRIVER GROUP SHARED DEVICE
for d in /sys/bus/pci/devices/*; do
	read -r class < "$d/class"
	case "$class" in
	0x0108*) kind=nvme ;;
	0x02*) kind=net ;;
	*) continue ;;
	esac
	read -r v < "$d/vendor"
	read -r p < "$d/device"
	id="${v#0x}:${p#0x}"
	drv=-
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	group=- shared=-
	if [ -e "$d/iommu_group" ]; then
		g=$(readlink "$d/iommu_group")
		group=${g##*/}
		set -- "$d/iommu_group/devices/"*
		shared=$(($# - 1))
	fi
	extra=
	[ -e "$d/nvme" ] && extra=" serial $(cat "$d"/nvme/nvme*/serial 2>/dev/null | tr -d ' ')"
	printf '%-13s %-10s %-5s %-10s %-6s %-7s %s%s\n' "${d##*/}" "$id" "$kind" "$drv" "$group" \
		"$shared" "$(name "$id")" "$extra"
done
echo "(SHARED: other devices in the same IOMMU group; all of them must be on vfio-pci or unbound)"
