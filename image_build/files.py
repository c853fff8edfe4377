# ruff: noqa: E501 - unit files and shell scripts keep their natural line length
"""The files the builder writes into the root filesystem, as text.

Kept here (not as package data) so that one module shows everything the image adds
on top of plain Debian, and tests can read it.
"""

from __future__ import annotations

from .recipe import BOOT_LABEL, DATA_LABEL, ROOT_LABEL

ESPACE_UID = 990  # fixed, so that files on the data partition keep their owner across images

# --- the read-only root: an overlay built by the initramfs ----------------------------
# The ext4 root is mounted read-only by the kernel (`ro` on the command line) and never
# remounted: a power cut cannot leave it half-written. The initramfs puts a tmpfs
# overlay on top, so programs that write to /etc or /var/log at run time still work;
# their writes vanish at reboot. What must survive lives on the data partition.
OVERLAY_SCRIPT = """#!/bin/sh
# Espace: mount the root read-only under a RAM overlay (init-bottom, initramfs-tools).
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0;; esac
. /scripts/functions
# No grep in the initramfs: the shell reads the command line.
read -r cmdline < /proc/cmdline
case " $cmdline " in
    *" espace.overlay=no "*)
        log_warning_msg "espace: overlay disabled on the kernel command line; root as mounted"
        exit 0;;
esac
modprobe overlay 2>/dev/null || true
mkdir -p /run/espace/lower /run/espace/rw
mount -n -o move "${rootmnt}" /run/espace/lower || { log_failure_msg "espace: cannot move root"; exit 0; }
mount -n -o remount,ro /run/espace/lower 2>/dev/null || true
mount -n -t tmpfs -o mode=0755,size=25% espace-rw /run/espace/rw
mkdir -p /run/espace/rw/upper /run/espace/rw/work
if mount -n -t overlay -o lowerdir=/run/espace/lower,upperdir=/run/espace/rw/upper,workdir=/run/espace/rw/work overlay "${rootmnt}"; then
    echo "espace: root is a RAM overlay on the read-only ext4 root" > /dev/kmsg
else
    log_failure_msg "espace: overlay failed; booting the read-only root as is"
    mount -n -o move /run/espace/lower "${rootmnt}"
fi
exit 0
"""

OVERLAY_HOOK = """#!/bin/sh
# Espace: the overlay module in the initramfs, for scripts/init-bottom/espace-overlay.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0;; esac
. /usr/share/initramfs-tools/hook-functions
manual_add_modules overlay
"""

# --- mounts ---------------------------------------------------------------------------
# No line for /: the initramfs mounted it (read-only, under the overlay); a line here
# would make systemd remount it. The FAT partition is read-only too: the site file is
# edited on a laptop, not on the box. The data partition is the only writable disk;
# e2fsck repairs it at boot after a power cut (pass 2).
FSTAB = f"""# Espace: the root is read-only under a RAM overlay (see /run/espace); only the data
# partition is written. Partitions are found by label.
LABEL={BOOT_LABEL}  /boot/firmware   vfat  ro,nofail,x-systemd.device-timeout=20s,uid=0,gid={ESPACE_UID},umask=0027  0  0
LABEL={DATA_LABEL} /var/lib/espace  ext4  defaults,noatime,commit=5,x-systemd.device-timeout=30s  0  2
"""

# --- ssh: keys on the data partition, only the technicians' keys from the site file --
SSHD_CONFIG = """# Espace: host keys are made at first boot on the data partition (the root is
# read-only and the same on every card); technicians' keys come from the site file
# (fleet.ssh_keys), rewritten at every boot.
HostKey /var/lib/espace/ssh/ssh_host_ed25519_key
HostKey /var/lib/espace/ssh/ssh_host_rsa_key
AuthorizedKeysFile /etc/espace/authorized_keys/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
"""

# --- the launchers: an upgrade pushed by `espace fleet upgrade` wins once checked -----
# The check runs with the factory Python and code (-I: no PYTHONPATH, no user site), so
# a release cannot vouch for itself; see image_build/release.py. A release that fails it
# is named on stderr (the journal, the console) and the factory version runs.
_PICK_RELEASE = """if [ -e /var/lib/espace/releases/current ] || [ -L /var/lib/espace/releases/current ]; then
    rel=$(/opt/espace/venv/bin/python3 -I -m image_build.release current /var/lib/espace/releases) || rel=
    [ -z "$rel" ] || export PYTHONPATH="$rel"
fi
"""

LAUNCHER = """#!/bin/sh
# Espace: the factory install is /opt/espace/venv (on the read-only root); an upgrade
# pushed by `espace fleet upgrade` is unpacked on the data partition, owned by root,
# and wins once checked against its wheel.
""" + _PICK_RELEASE + """exec /opt/espace/venv/bin/python3 -c 'import sys; from appliance.cli import main; sys.argv[0] = "espace"; main()' "$@"
"""

BOOT_LAUNCHER = """#!/bin/sh
# Espace: first boot and every boot (see image_build/boot.py).
""" + _PICK_RELEASE + """exec /opt/espace/venv/bin/python3 -m image_build.boot "$@"
"""

# --- units ----------------------------------------------------------------------------
# Runs at every boot, after the data and boot partitions are mounted, before the network
# and the services: first boot's one-off work, then the network config from the site
# file (into the RAM overlay, so the FAT file stays the one source of truth).
BOOT_UNIT = """[Unit]
Description=Espace: first boot, then the site file applied to the system
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Wants=local-fs.target
# The site file is on the FAT partition (nofail in fstab, so not in local-fs.target).
RequiresMountsFor=/boot/firmware /var/lib/espace
Before=network-pre.target systemd-networkd.service ssh.service hostapd.service dnsmasq.service nftables.service espace-web.service espace-worker.service sysinit.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/espace-boot
StandardOutput=journal+console

[Install]
WantedBy=sysinit.target
"""

# Vendor units: render_system writes the site's own under /etc/systemd/system, which
# take precedence; these make a box serve its portal even before anything is rendered.
WEB_UNIT = """[Unit]
Description=Espace web (portal and kiosk)
After=network.target espace-boot.service
Wants=espace-boot.service
RequiresMountsFor=/var/lib/espace

[Service]
ExecStart=/usr/local/bin/espace serve --site /etc/espace/site.toml --port 80
User=espace
Group=espace
AmbientCapabilities=CAP_NET_BIND_SERVICE
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""

WORKER_UNIT = """[Unit]
Description=Espace worker (sync, roll-ups, downloads, clean-up)
# After the network is online: the first sync and mDNS announcement have an address
# (mDNS follows later changes too: provisioning/mdns.py).
After=network-online.target espace-boot.service
Wants=network-online.target espace-boot.service
RequiresMountsFor=/var/lib/espace

[Service]
ExecStart=/usr/local/bin/espace worker --site /etc/espace/site.toml
User=espace
Group=espace
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
"""

# The touchscreen: cage (a Wayland kiosk compositor) runs chromium on the kiosk page,
# only where a display exists. A logind session on tty7 gives cage its seat.
KIOSK_UNIT = """[Unit]
Description=Espace kiosk: chromium in cage on the touchscreen
After=espace-web.service systemd-user-sessions.service
Wants=espace-web.service
ConditionPathExistsGlob=/dev/dri/card*
Conflicts=getty@tty7.service

[Service]
User=espace
PAMName=espace-kiosk
TTYPath=/dev/tty7
TTYReset=yes
TTYVHangup=yes
TTYVTDisallocate=yes
StandardInput=tty-fail
UtmpIdentifier=tty7
UtmpMode=user
Environment=XDG_CONFIG_HOME=/var/lib/espace/kiosk HOME=/var/lib/espace/kiosk
# --lang=fr: Chromium's own texts (form checks, error pages) in French, as the kiosk's
# pages default to; the facilitator's own language comes from the pages' cookie.
ExecStart=/usr/bin/cage -d -- /usr/bin/chromium --kiosk --lang=fr --app=http://127.0.0.1:8081/kiosk/ --noerrdialogs --disable-translate --no-first-run --ozone-platform=wayland --disk-cache-dir=/tmp/kiosk-cache
Restart=always
RestartSec=5

[Install]
WantedBy=graphical.target multi-user.target
"""

KIOSK_PAM = """auth     required pam_unix.so nullok
account  required pam_unix.so
session  required pam_unix.so
session  required pam_systemd.so
"""

# --- Raspberry Pi firmware (raspi-firmware reads these when it writes the FAT side) ---
RASPI_FIRMWARE_DEFAULT = f"""# Espace: written by the image builder. raspi-firmware writes cmdline.txt from this.
KERNEL_ARCH="arm64"
CONSOLES="serial0,115200 tty1"
ROOTPART=LABEL={ROOT_LABEL}
"""

# Appended to cmdline.txt: the root is never remounted read-write.
RASPI_EXTRA_CMDLINE = "ro rootwait net.ifnames=0\n"

# Appended to config.txt: Pi 3B+, 4 and Zero 2 W. The official 7" touchscreen works with
# the KMS driver; the audio jack is not needed.
RASPI_CONFIG_CUSTOM = """# Espace
dtoverlay=vc4-kms-v3d
disable_overscan=1
"""
