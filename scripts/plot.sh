#!/usr/bin/env bash
# memcoord — plot a decision trace (--trace FILE.csv) to a PNG.
#   scripts/plot.sh TRACE.csv OUT.png [TITLE]
# One panel per guest (the first 12): its balloon size and its free memory
# (MemAvailable) over time, grows and shrinks marked; a top panel with the
# host's free memory.
set -euo pipefail
trace=${1:?usage: plot.sh TRACE.csv OUT.png [TITLE]}
out=${2:?usage: plot.sh TRACE.csv OUT.png [TITLE]}
title=${3:-$(basename "$trace")}
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot is not installed" >&2; exit 1; }
[ -s "$trace" ] || { echo "plot.sh: $trace is empty or missing" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Split the trace: one whitespace-separated file per domain (names are
# quoted CSV fields; reasons may hold commas, so only the first 7 fields
# are read). Domains are numbered in order of appearance.
awk -F, -v dir="$tmp" '
NR == 1 { next }
{
	name = $2; gsub(/"/, "", name)
	if (!(name in id)) { id[name] = n++; order[id[name]] = name }
	f = dir "/d" id[name] ".dat"
	print $1, $3, $4, $6, $7 > f
}
END {
	for (i = 0; i < n; i++) print i, order[i] > (dir "/names")
}' "$trace"

host_id=$(awk '$2 == "_host" { print $1 }' "$tmp/names")
mapfile -t guests < <(awk '$2 != "_host" { print $1 " " $2 }' "$tmp/names" | head -n 12)
ng=${#guests[@]}
cols=$(( ng > 6 ? 3 : (ng > 1 ? 2 : 1) ))
rows=$(( (ng + cols - 1) / cols + 1 ))

{
	echo "set terminal pngcairo size $((cols * 520)),$((rows * 260)) font ',9'"
	echo "set output '$out'"
	echo "set multiplot layout $rows,$cols title '$title'"
	echo "set key top left horizontal font ',8'"
	echo "set grid"
	echo "set xlabel 'time (s)'"
	echo "set ylabel 'MiB'"
	if [ -n "$host_id" ]; then
		echo "set title 'host free memory'"
		echo "plot '$tmp/d$host_id.dat' using 1:3 with lines lw 2 lc rgb '#444444' title 'host free'"
		for ((c = 1; c < cols; c++)); do echo "set multiplot next"; done
	fi
	for g in "${guests[@]}"; do
		id=${g%% *}
		name=${g#* }
		echo "set title '$name'"
		echo "plot '$tmp/d$id.dat' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'balloon', \\"
		echo "     '' using 1:3 with lines lc rgb '#2ca02c' title 'free (usable)', \\"
		echo "     '' using 1:(strcol(5) eq 'grow' ? \$4 : 1/0) with points pt 9 ps 0.8 lc rgb '#d62728' title 'grow', \\"
		echo "     '' using 1:(strcol(5) eq 'shrink' ? \$4 : 1/0) with points pt 11 ps 0.8 lc rgb '#ff7f0e' title 'shrink'"
	done
	echo "unset multiplot"
} > "$tmp/plot.gp"

gnuplot "$tmp/plot.gp"
echo "plot written to $out"
