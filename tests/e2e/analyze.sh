# shellcheck shell=bash
# memcoord e2e — reading a decision trace (memcoord --trace) and the
# timeline.  Sourced by run.sh; awk only.
#
# Trace columns: time_s,domain,actual_mib,usable_mib,unused_mib,target_mib,
# action,reason (domain and reason quoted; a reason may hold commas, so only
# the first seven fields are read).  Times are seconds since memcoord's
# first decision pass; tr_offset maps timeline (host) seconds onto them.
#
#   tr_agg TRACE DOMAIN COLUMN AGG [FROM [TO]]
#        COLUMN: actual usable unused target;  AGG: min max first last mean
#        rows of DOMAIN with FROM <= time_s <= TO; prints nothing if none
#   tr_count TRACE DOMAIN ACTION [FROM [TO]]   rows with that action
#   tr_step TRACE DOMAIN ACTION [FROM [TO]]    largest |target - actual| of
#                                              those rows
#   tr_sum_max TRACE [FROM [TO]]               most, over passes, of the sum of
#                                              all guests' balloons
#   tr_time_of TRACE DOMAIN COLUMN AGG         time_s of the row holding the
#                                              min/max of COLUMN
#   tr_offset TRACE TIMELINE                   host seconds minus trace seconds
#                                              (from the first "set" line)

_tr_col()
{
	case $1 in
	actual) echo 3 ;;
	usable) echo 4 ;;
	unused) echo 5 ;;
	target) echo 6 ;;
	*) echo 0 ;;
	esac
}

tr_agg()
{
	local trace=$1 dom=$2 col agg=$4 from=${5:--1e9} to=${6:-1e9}
	col=$(_tr_col "$3")
	awk -F, -v d="$dom" -v c="$col" -v agg="$agg" -v from="$from" -v to="$to" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name == d && $1 + 0 >= from + 0 && $1 + 0 <= to + 0 {
		v = $c + 0
		if (n == 0 || v < mn) mn = v
		if (n == 0 || v > mx) mx = v
		if (n == 0) first = v
		last = v; sum += v; n++
	}
	END {
		if (!n) exit
		if (agg == "min") print mn
		else if (agg == "max") print mx
		else if (agg == "first") print first
		else if (agg == "last") print last
		else if (agg == "mean") printf "%.1f\n", sum / n
	}' "$trace"
}

tr_time_of()
{
	local trace=$1 dom=$2 col agg=$4
	col=$(_tr_col "$3")
	awk -F, -v d="$dom" -v c="$col" -v agg="$agg" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name == d {
		v = $c + 0
		if (n == 0 || (agg == "max" && v > best) || (agg == "min" && v < best)) { best = v; t = $1 }
		n++
	}
	END { if (n) print t }' "$trace"
}

tr_count()
{
	local trace=$1 dom=$2 act=$3 from=${4:--1e9} to=${5:-1e9}
	awk -F, -v d="$dom" -v a="$act" -v from="$from" -v to="$to" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name == d && $7 == a && $1 + 0 >= from + 0 && $1 + 0 <= to + 0 { n++ }
	END { print n + 0 }' "$trace"
}

tr_step()
{
	local trace=$1 dom=$2 act=$3 from=${4:--1e9} to=${5:-1e9}
	awk -F, -v d="$dom" -v a="$act" -v from="$from" -v to="$to" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name == d && $7 == a && $1 + 0 >= from + 0 && $1 + 0 <= to + 0 {
		s = $6 - $3; if (s < 0) s = -s
		if (s > mx) mx = s
	}
	END { print mx + 0 }' "$trace"
}

tr_sum_max()
{
	local trace=$1 from=${2:--1e9} to=${3:-1e9}
	awk -F, -v from="$from" -v to="$to" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name != "_host" && $1 + 0 >= from + 0 && $1 + 0 <= to + 0 { s[$1] += $3 }
	END { for (t in s) if (s[t] > mx) mx = s[t]; print mx + 0 }' "$trace"
}

# The host's least free memory over the run (MiB).
tr_host_min_free()
{
	awk -F, 'NR > 1 && $2 ~ /_host/ { if (n++ == 0 || $4 < mn) mn = $4 } END { if (n) print mn }' "$1"
}

tr_offset()
{
	local trace=$1 timeline=$2 host dom to ttrace
	# First set line: "<6>set NAME: A -> B MiB (...)"
	read -r host dom to < <(awk '$2 == "memcoord" && $3 ~ /^<[0-9]>set$/ {
		d = $4; sub(/:$/, "", d); print $1, d, $7; exit }' "$timeline")
	[ -n "${host:-}" ] || { echo 0; return; }
	ttrace=$(awk -F, -v d="$dom" -v to="$to" 'NR > 1 {
		name = $2; gsub(/"/, "", name)
		if (name == d && ($7 == "grow" || $7 == "shrink") && ($6 - to < 1 && to - $6 < 1)) { print $1; exit } }' "$trace")
	[ -n "$ttrace" ] || { echo 0; return; }
	awk -v a="$host" -v b="$ttrace" 'BEGIN { printf "%.1f\n", a - b }'
}

# Arithmetic on decimals: calc EXPR (awk syntax).
calc()
{
	awk "BEGIN { printf \"%.1f\n\", $* }"
}

# Compare decimals: fcmp A OP B (OP one of < <= > >= ==).
fcmp()
{
	awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		if (op == "<") r = a < b; else if (op == "<=") r = a <= b
		else if (op == ">") r = a > b; else if (op == ">=") r = a >= b
		else r = a == b
		exit !r }'
}

# tr_over TRACE LIMIT: "MAX_SUM LONGEST_S TOTAL_S" — the largest sum of all
# guests' balloons in a pass, and how long (longest stretch, in all) the sum
# stayed above LIMIT, from pass to pass.
tr_over()
{
	awk -F, -v lim="$2" '
	NR == 1 { next }
	{ name = $2; gsub(/"/, "", name) }
	name != "_host" { s[$1 + 0] += $3; seen[$1 + 0] = 1 }
	END {
		n = 0
		for (t in seen) ts[n++] = t + 0
		# insertion sort: a few thousand passes at most
		for (i = 1; i < n; i++) { v = ts[i]; j = i - 1; while (j >= 0 && ts[j] > v) { ts[j + 1] = ts[j]; j-- } ts[j + 1] = v }
		over = 0; longest = 0; total = 0
		for (i = 0; i < n; i++) {
			t = ts[i]; v = s[t]
			if (v > mx) mx = v
			if (i > 0 && prev_over) { total += t - ts[i - 1]; cur += t - ts[i - 1]; if (cur > longest) longest = cur }
			if (v > lim) { if (!prev_over) cur = 0; prev_over = 1 } else prev_over = 0
		}
		printf "%.1f %.1f %.1f\n", mx, longest, total
	}' "$1"
}
