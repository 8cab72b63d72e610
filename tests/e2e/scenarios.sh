# shellcheck shell=bash
# memcoord e2e — the scenarios (sourced by run.sh, which defines the
# helpers used here).  Each sc_* function runs one scenario from boot to
# cleanup and prints its checks.  Guest-side times in mc.work are seconds
# of the guest's clock from its workload's start (~1.5 s after boot);
# memcoord starts once every guest is ready, a few seconds after boot.


# ---- 1. one hog, three idle ---------------------------------------------------

HOG_RATE=20         # MiB/s
HOG_SIZE=1200       # MiB, most of a 2048 MiB maximum
HOG_WAIT=5          # s before it starts (idle guests settle meanwhile)
HOG_HOLD=3

sc_hog()
{
	local policy=$1 g t_free t_alloc t_end a_peak a_idle a_final idle_max f
	local grows_alloc shrinks_after step_max min_use_a held
	local t_alloc_tr t_free_tr
	local name=hog
	[ "$policy" = seed ] && name=hog-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		lab_define e2e-a "wait:$HOG_WAIT,alloc:$HOG_RATE:$HOG_SIZE,hold:$HOG_HOLD,free,idle" &&
			lab_define e2e-b "" && lab_define e2e-c "" && lab_define e2e-d "" ||
			{ not_ok "$SC: define the guests"; scenario_end; return; }
		boot_and_run e2e-a e2e-b e2e-c e2e-d -- --policy "$policy" || { scenario_end; return; }

		# Allocation, hold, free: about HOG_SIZE/HOG_RATE + HOG_WAIT + HOG_HOLD.
		lab_wait $((HOG_WAIT + HOG_SIZE / HOG_RATE * 2 + HOG_HOLD + 30)) workload_over e2e-a
		died_check && { scenario_end; return; }
		# Then the reclaim, until e2e-a is back near the idle guests' size.
		idle_max=0
		for g in e2e-b e2e-c e2e-d; do
			f=$(actual_now "$g")
			[ "${f:-0}" -gt "$idle_max" ] && idle_max=$f
		done
		reclaimed() { local a; a=$(actual_now e2e-a); [ -n "$a" ] && [ "$a" -le $((idle_max + 128)) ]; }
		# The seed policy's fixed steps take longer; its results are
		# only recorded, so it gets half the time.
		lab_wait "$([ "$policy" = seed ] && echo 30 || echo 60)" reclaimed
		lab_sleep 3
		scenario_end
	fi
	[ -s "$LAB_OUT/trace.csv" ] || { not_ok "$SC: memcoord wrote a trace"; return; }
	local T=$LAB_OUT/trace.csv TL=$LAB_OUT/timeline.txt
	TR_OFF=$(tr_offset "$T" "$TL")
	idle_max=$(for g in e2e-b e2e-c e2e-d; do tr_agg "$T" "$g" actual last; done | sort -g | tail -n 1)
	idle_max=${idle_max%.*}
	t_alloc=$(lab_when e2e-a '^MC-STEP 1 alloc')
	t_free=$(lab_when e2e-a '^MC-FREED')
	t_end=$(lab_when e2e-a '^MC-WORKLOAD-(DONE|KILLED|FAILED)')
	t_alloc_tr=$(to_trace "${t_alloc:-0}")
	t_free_tr=$(to_trace "${t_free:-1e6}")
	measure "timeline: memcoord's first decision at host ${TR_OFF} s; e2e-a allocates from ${t_alloc:-?} s, frees at ${t_free:-?} s, ends (${t_end:-never}) — host seconds since the scenario began"
	measure "e2e-a rate: $(guest_rate e2e-a) (guest clock vs host clock)"

	# The hog.
	local how; how=$(workload_end e2e-a)
	expect "e2e-a's workload ran to its end, never OOM-killed (end: $how, OOM lines: $(oom_kills e2e-a))" \
		test "$how" = "done" -a "$(oom_kills e2e-a)" -eq 0
	a_idle=$(tr_agg "$T" e2e-a actual last -1e9 "$t_alloc_tr")
	a_peak=$(tr_agg "$T" e2e-a actual max)
	min_use_a=$(tr_agg "$T" e2e-a usable min "$t_alloc_tr" "$t_free_tr")
	grows_alloc=$(tr_count "$T" e2e-a grow "$t_alloc_tr" "$t_free_tr")
	held=$(awk '/^MC-ALLOC-END/ { sub(/.*held=/, ""); print $1 + 0; exit }' "$LAB_OUT/e2e-a.serial.log")
	measure "e2e-a: balloon ${a_idle:-?} MiB before its allocation, peak ${a_peak:-?} MiB for ${held:-?} MiB allocated; ${grows_alloc} grows while allocating; least MemAvailable while allocating ${min_use_a:-?} MiB"
	expect "e2e-a grew ahead of its need: MemAvailable never below 32 MiB while allocating (least ${min_use_a:-?} MiB)" \
		fcmp "${min_use_a:--1}" '>=' 32
	# consumption_ok RATE N MEDIAN MAX HIGH
	consumption_ok()
	{
		[ "$2" -gt 0 ] && [ "$5" -le 1 ] &&
			fcmp "$3" '<=' "$(calc "$1 * 1.25")" && fcmp "$4" '<=' "$(calc "$1 * 2")"
	}
	# memcoord's consumption estimates, one per grow reason. Around each
	# grow the guest's figures lag (used memory read 55, 0, 4, 21 MiB/s
	# one interval at a time, for 20); memcoord keeps its estimate over
	# that and measures over two intervals. Before (one interval, grows
	# told by the balloon), one or two estimates per run read 31-37
	# MiB/s. A
	# systematic error (every other grant oversized) moves the median
	# and repeats: both are checked.
	local rate cn cmed cmax chigh
	rate=$(guest_rate e2e-a | awk '{ for (i = 1; i <= NF; i++) if ($i == "MiB/s;") { print $(i - 1); exit } }')
	read -r cn cmed cmax chigh < <(grep -oE '^<6>set e2e-a: .*consuming [0-9.]+ MiB/s' "$LAB_OUT/memcoord.log" |
		sed -E 's/.*consuming ([0-9.]+) MiB.*/\1/' | sort -g |
		awk -v r="${rate:-0}" '{ v[NR] = $1; if ($1 > r * 1.5) h++ }
			END { if (!NR) { print 0, "?", "?", 0; exit }
			      print NR, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR], h + 0 }')
	[ "$policy" = balance ] &&
		measure "e2e-a allocates at ${rate:-?} MiB/s (host clock); memcoord's ${cn} grow reasons say it consumes ${cmed} MiB/s (median), up to ${cmax} MiB/s" &&
		expect "memcoord's consumption estimate: median within 1.25x the real rate, at most one of ${cn} above 1.5x, none above 2x (median ${cmed}, max ${cmax}, above 1.5x: ${chigh}; real ${rate:-?} MiB/s)" \
			consumption_ok "${rate:-0}" "$cn" "$cmed" "$cmax" "$chigh"
	expect "e2e-a's balloon reached its allocation (peak ${a_peak:-?} MiB >= ${held:-?} MiB held)" \
		fcmp "${a_peak:-0}" '>=' "${held:-1e9}"

	# The idle guests.
	for g in e2e-b e2e-c e2e-d; do
		local first last mn mu
		first=$(tr_agg "$T" "$g" actual first)
		last=$(tr_agg "$T" "$g" actual last)
		mn=$(tr_agg "$T" "$g" actual min)
		mu=$(tr_agg "$T" "$g" usable min)
		measure "$g (idle): balloon ${first:-?} -> ${last:-?} MiB, least ${mn:-?} MiB; least MemAvailable ${mu:-?} MiB"
		expect "$g gave back surplus (balloon ${first:-?} -> ${last:-?} MiB)" \
			fcmp "${last:-1e9}" '<' "$((LAB_CUR_MIB - 32))"
		expect "$g kept its floor (least balloon ${mn:-?} >= $FLOOR MiB)" \
			fcmp "${mn:-0}" '>=' "$FLOOR"
		expect "$g kept the low watermark (least MemAvailable ${mu:-?} >= $LOW MiB)" \
			fcmp "${mu:-0}" '>=' "$LOW"
	done

	# After the free.
	a_final=$(tr_agg "$T" e2e-a actual last)
	shrinks_after=$(tr_count "$T" e2e-a shrink "$t_free_tr")
	step_max=$(tr_step "$T" e2e-a shrink "$t_free_tr")
	local t_back
	t_back=$(awk -F, -v from="$t_free_tr" -v lim="$((idle_max + 128))" 'NR > 1 { n = $2; gsub(/"/, "", n) }
		NR > 1 && n == "e2e-a" && $1 + 0 >= from + 0 && $3 + 0 <= lim + 0 { printf "%.1f\n", $1 - from; exit }' "$T")
	measure "e2e-a after the free: ${a_peak:-?} -> ${a_final:-?} MiB in ${shrinks_after} shrinks (largest ${step_max} MiB), within 128 MiB of the idle guests (${idle_max} MiB): $([ -n "$t_back" ] && echo "after $t_back s" || echo never)"
	expect "e2e-a reclaimed back near its idle size (${a_final:-?} MiB <= idle guests' ${idle_max} + 128 MiB)" \
		fcmp "${a_final:-1e9}" '<=' "$((idle_max + 128))"
	expect "e2e-a reclaimed gradually (${shrinks_after} shrinks, largest ${step_max} MiB <= 256 MiB)" \
		test "$shrinks_after" -ge 3 -a "${step_max%.*}" -le 256
	memcoord_clean_exit
}

# budget_check BUDGET: the sum of the balloons (trace) stays within the
# budget, but for a shrink still in flight: a guest's balloon inflates
# (gives memory) more slowly than another's deflates (takes memory), so a
# grow funded by a reclaim can push the sum over for a moment.
budget_check()
{
	local b=$1 mx longest total
	read -r mx longest total < <(tr_over "$LAB_OUT/trace.csv" "$(($1 + BUDGET_TOL))")
	measure "sum of balloons at most ${mx} MiB (budget $b MiB); above budget + $BUDGET_TOL MiB for ${total} s in all, ${longest} s at most at a stretch"
	expect "the budget held: the sum of balloons never stayed above $b + $BUDGET_TOL MiB for more than 2 s (longest ${longest} s)" \
		fcmp "$longest" '<=' 2
	expect "the sum of balloons never went above $b + $BUDGET_TOL MiB, even for a moment (at most ${mx} MiB)" \
		fcmp "$mx" '<=' "$((b + BUDGET_TOL))"
}



# ---- 2. four allocate under a budget ----------------------------------------------

BUD_BUDGET=3000     # MiB: weighted shares 1200 (weight 2) and 600 (weight 1)
BUD_RATE=18
BUD_SIZE=1100       # MiB each: a demand of ~4 x 1250 MiB of balloon
BUD_LIMIT=45        # s of allocation at most
BUD_MINAVAIL=48     # polite allocation: stall, not OOM, when short

sc_budget()
{
	local policy=$1 name=budget g conf t_hold t_hold_tr sum_hold mn how b_omin b_omax mean_o
	local -A bal=()
	[ "$policy" = seed ] && name=budget-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		conf=$LAB_OUT/memcoord.conf
		cat >"$conf" <<-CONF
		# e2e budget scenario
		[host]
		budget = ${BUD_BUDGET}M
		[domain:e2e-a]
		weight = 2
		CONF
		for g in e2e-a e2e-b e2e-c e2e-d; do
			lab_define "$g" "wait:5,alloc:$BUD_RATE:$BUD_SIZE:$BUD_LIMIT,hold:3,free,idle" \
				"mc.minavail=$BUD_MINAVAIL" || { not_ok "$SC: define $g"; scenario_end; return; }
		done
		boot_and_run e2e-a e2e-b e2e-c e2e-d -- --policy "$policy" --config "$conf" || { scenario_end; return; }
		lab_wait $((5 + BUD_LIMIT + 3 + 40)) all_workloads_over e2e-a e2e-b e2e-c e2e-d
		died_check && { scenario_end; return; }
		lab_sleep 2
		scenario_end
	fi
	[ -s "$LAB_OUT/trace.csv" ] || { not_ok "$SC: memcoord wrote a trace"; return; }
	local T=$LAB_OUT/trace.csv TL=$LAB_OUT/timeline.txt
	TR_OFF=$(tr_offset "$T" "$TL")

	for g in e2e-a e2e-b e2e-c e2e-d; do
		measure "$g: $(guest_rate "$g"); $(awk '/^MC-ALLOC-END/ { print $2, $3, $5; exit }' "$LAB_OUT/$g.serial.log")"
	done
	budget_check "$BUD_BUDGET"
	# Shares at the end of the contention: the 4 s before the first guest
	# ends its allocation (all four still allocate then).
	t_hold=$(awk '$3 == "MC-ALLOC-END" { print $1; exit }' "$TL")
	t_hold_tr=$(to_trace "$(calc "${t_hold:-4} - 4")")
	sum_hold=$(tr_sum_max "$T" "$t_hold_tr" "$(calc "$t_hold_tr + 4")")
	for g in e2e-a e2e-b e2e-c e2e-d; do
		bal[$g]=$(tr_agg "$T" "$g" actual mean "$t_hold_tr" "$(calc "$t_hold_tr + 4")")
		mn=$(tr_agg "$T" "$g" actual min)
		how=$(workload_end "$g")
		expect "$g kept its floor (least balloon ${mn:-?} >= $FLOOR MiB)" fcmp "${mn:-0}" '>=' "$FLOOR"
		expect "$g's polite workload was never OOM-killed (end: $how)" test "$(oom_kills "$g")" -eq 0
	done
	measure "balloons at the end of the contention (${t_hold_tr} s): a ${bal[e2e-a]} (weight 2), b ${bal[e2e-b]}, c ${bal[e2e-c]}, d ${bal[e2e-d]}: sum ${sum_hold} of a budget of $BUD_BUDGET MiB"
	mean_o=$(calc "(${bal[e2e-b]:-0} + ${bal[e2e-c]:-0} + ${bal[e2e-d]:-0}) / 3")
	expect "the budget was used: ${sum_hold} MiB >= 90% of $BUD_BUDGET MiB" \
		fcmp "${sum_hold:-0}" '>=' "$(calc "$BUD_BUDGET * 0.9")"
	expect "a (weight 2) holds more than any weight-1 guest (${bal[e2e-a]} MiB vs the others' mean ${mean_o} MiB)" \
		fcmp "${bal[e2e-a]:-0}" '>' "$(printf '%s\n' "${bal[e2e-b]}" "${bal[e2e-c]}" "${bal[e2e-d]}" | sort -g | tail -n 1)"
	expect \
		"shared by weight: a (weight 2) holds ${bal[e2e-a]} MiB, 1.6..2.4 x the others' mean ${mean_o} MiB" \
		awk -v a="${bal[e2e-a]:-0}" -v m="$mean_o" 'BEGIN { exit !(a >= 1.6 * m && a <= 2.4 * m) }'
	expect \
		"no weight-1 guest above its weighted share ($((BUD_BUDGET / 5)) MiB + 5%) while a is short" \
		fcmp "$(printf '%s\n' "${bal[e2e-b]}" "${bal[e2e-c]}" "${bal[e2e-d]}" | sort -g | tail -n 1)" '<=' "$(calc "$BUD_BUDGET / 5 * 1.05")"
	b_omin=$(printf '%s\n' "${bal[e2e-b]}" "${bal[e2e-c]}" "${bal[e2e-d]}" | sort -g | head -n 1)
	b_omax=$(printf '%s\n' "${bal[e2e-b]}" "${bal[e2e-c]}" "${bal[e2e-d]}" | sort -g | tail -n 1)
	expect "equal weights, equal shares: b, c, d within 15% of their mean (${b_omin}..${b_omax} MiB)" \
		fcmp "$(calc "$b_omax - $b_omin")" '<=' "$(calc "$mean_o * 0.15")"
	measure "host free memory at least $(tr_host_min_free "$T") MiB (reserve 512 MiB)"
	expect "the host reserve held (least free $(tr_host_min_free "$T") MiB >= 512)" \
		fcmp "$(tr_host_min_free "$T")" '>=' 512
	memcoord_clean_exit
}

# ---- 3. one releases early, the other keeps going ----------------------------------

REL_BUDGET=2048

sc_release()
{
	local policy=$1 name=release t_free t_free_tr a_before a_after b_before b_after held_free held_end
	[ "$policy" = seed ] && name=release-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		lab_define e2e-a "wait:8,alloc:20:400,hold:5,free,idle" "mc.minavail=48" &&
			lab_define e2e-b "wait:18,alloc:10:700:42,hold:3,free,idle" "mc.minavail=48" &&
			lab_define e2e-c "" && lab_define e2e-d "" ||
			{ not_ok "$SC: define the guests"; scenario_end; return; }
		boot_and_run e2e-a e2e-b e2e-c e2e-d -- --policy "$policy" --budget "$REL_BUDGET" || { scenario_end; return; }
		lab_wait 120 all_workloads_over e2e-a e2e-b
		died_check && { scenario_end; return; }
		# At least 15 s after e2e-a's free, to see where its memory went.
		freed_15s_ago() { local t; t=$(lab_when e2e-a '^MC-FREED'); [ -n "$t" ] && fcmp "$(lab_now)" '>=' "$(calc "$t + 15")"; }
		lab_wait 30 freed_15s_ago
		lab_sleep 2
		scenario_end
	fi
	[ -s "$LAB_OUT/trace.csv" ] || { not_ok "$SC: memcoord wrote a trace"; return; }
	local T=$LAB_OUT/trace.csv TL=$LAB_OUT/timeline.txt
	TR_OFF=$(tr_offset "$T" "$TL")
	t_free=$(lab_when e2e-a '^MC-FREED')
	t_free_tr=$(to_trace "${t_free:-1e6}")
	local t_bend t_bend_tr
	t_bend=$(lab_when e2e-b '^MC-ALLOC-END')
	t_bend_tr=$(to_trace "${t_bend:-1e6}")
	# e2e-b may have stopped allocating before e2e-a freed (seed): look
	# 15 s past the free at least.
	fcmp "$t_bend_tr" '>=' "$(calc "$t_free_tr + 15")" || t_bend_tr=$(calc "$t_free_tr + 15")
	a_before=$(tr_agg "$T" e2e-a actual last -1e9 "$t_free_tr")
	b_before=$(tr_agg "$T" e2e-b actual last -1e9 "$t_free_tr")
	a_after=$(tr_agg "$T" e2e-a actual min "$t_free_tr" "$t_bend_tr")
	b_after=$(tr_agg "$T" e2e-b actual max "$t_free_tr" "$t_bend_tr")
	held_free=$(awk -v t="$t_free" '$2 == "e2e-b" && $3 == "MC-STAT" && $1 + 0 <= t + 0 { h = $5 } END { sub(/held=/, "", h); print h + 0 }' "$TL")
	held_end=$(awk '/^MC-ALLOC-END/ { sub(/.*held=/, ""); print $1 + 0; exit }' "$LAB_OUT/e2e-b.serial.log")
	measure "e2e-a: $(guest_rate e2e-a); frees at host ${t_free:-?} s (trace ${t_free_tr} s)"
	measure "e2e-a's balloon ${a_before:-?} -> ${a_after:-?} MiB after its free; e2e-b's ${b_before:-?} -> ${b_after:-?} MiB; e2e-b held ${held_free} MiB at a's free, ${held_end:-?} MiB at its end ($(awk '/^MC-ALLOC-END/ { print $3, $5; exit }' "$LAB_OUT/e2e-b.serial.log"))"
	local released gained
	released=$(calc "${a_before:-0} - ${a_after:-0}")
	gained=$(calc "${b_after:-0} - ${b_before:-0}")
	expect "e2e-a gave back what it released (its balloon fell by ${released} MiB >= 150)" \
		fcmp "$released" '>=' 150
	expect "the released memory flowed to e2e-b (its balloon grew by ${gained} MiB >= half of ${released})" \
		fcmp "$gained" '>=' "$(calc "$released / 2")"
	expect "e2e-b kept allocating after e2e-a's release (held ${held_free} -> ${held_end:-?} MiB)" \
		fcmp "${held_end:-0}" '>' "$((held_free + 100))"
	[ "$policy" = seed ] && measure "(the seed policy ignores the budget)"
	budget_check "$REL_BUDGET"
	for g in e2e-a e2e-b; do
		expect "$g's workload was never OOM-killed (end: $(workload_end "$g"))" test "$(oom_kills "$g")" -eq 0
	done
	memcoord_clean_exit
}


# ---- 4. a guest started, another destroyed, mid-run --------------------------------

# The kernel keeps 15 characters of a thread name.
mc_has_thread()
{
	local c="mc/$1" f
	c=${c:0:15}
	for f in /proc/"$LAB_MC_PID"/task/*/comm; do
		[ "$(cat "$f" 2>/dev/null)" = "$c" ] && return 0
	done
	return 1
}

sc_lifecycle()
{
	local policy=$1 name=lifecycle t_drop t_add n
	[ "$policy" = seed ] && name=lifecycle-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		lab_define e2e-a "wait:5,alloc:10:300,hold:30,free,idle" && lab_define e2e-b "" &&
			lab_define e2e-c "" && lab_define e2e-d "" ||
			{ not_ok "$SC: define the guests"; scenario_end; return; }
		boot_and_run e2e-a e2e-b e2e-c -- --policy "$policy" || { scenario_end; return; }
		lab_sleep 3 || { died_check; scenario_end; return; }
		lab_start e2e-d
		lab_wait 15 grep -q '^<[0-9]>e2e-d: domain is running; collecting its statistics$' "$LAB_OUT/memcoord.log"
		check "$SC: memcoord runs a collector thread mc/e2e-d" lab_wait 5 mc_has_thread e2e-d
		lab_wait 60 _lab_ready_one e2e-d && lab_go e2e-d
		lab_sleep 6
		lab_destroy e2e-c
		t_drop=$(lab_now)
		lab_wait 15 grep -qE '^<[0-9]>e2e-c: domain (stopped|is no longer running \(resync\)); dropped$' "$LAB_OUT/memcoord.log"
		check "$SC: its collector thread mc/e2e-c ended" lab_wait 5 eval '! mc_has_thread e2e-c'
		lab_sleep 4
		scenario_end
	fi
	local T=$LAB_OUT/trace.csv TL=$LAB_OUT/timeline.txt
	TR_OFF=$(tr_offset "$T" "$TL")
	t_add=$(lab_when runner '^started e2e-d')
	t_drop=$(lab_when runner '^destroyed e2e-c')
	local l
	l=$(grep -m1 -E '^<[0-9]>e2e-d: domain is running; collecting its statistics$' "$LAB_OUT/memcoord.log")
	expect "the started guest e2e-d is picked up (${l:-no 'collecting' line}, $(calc "$(lab_when memcoord 'e2e-d: domain is running') - ${t_add:-0}") s after its start)" test -n "$l"
	l=$(grep -m1 -E '^<[0-9]>e2e-c: domain (stopped|is no longer running \(resync\)); dropped$' "$LAB_OUT/memcoord.log")
	expect "the destroyed guest e2e-c is dropped (${l:-no 'dropped' line}, $(calc "$(lab_when memcoord 'e2e-c: domain .*dropped') - ${t_drop:-0}") s after its destruction)" test -n "$l"
	n=$(awk -F, 'NR > 1 { d = $2; gsub(/"/, "", d) } NR > 1 && d == "e2e-d" && $4 + 0 > 0 { n++ } END { print n + 0 }' "$T")
	expect "decisions include e2e-d ($n trace rows with its statistics)" test "$n" -gt 3
	expect "memcoord acted on e2e-d ($(log_count '^<6>set e2e-d:') balloon changes)" test "$(log_count '^<6>set e2e-d:')" -ge 1
	local dmax
	dmax=$(awk '/^<6>set e2e-d: / { v = $5 + 0; if (v > m) m = v } END { print m + 0 }' "$LAB_OUT/memcoord.log")
	measure "e2e-d's first balloon change: $(grep -m1 '^<6>set e2e-d: ' "$LAB_OUT/memcoord.log")"
	expect "memcoord never set the new guest above its start size ($LAB_CUR_MIB MiB; highest target ${dmax} MiB)" \
		fcmp "$dmax" '<=' "$((LAB_CUR_MIB + 8))"
	n=$(awk -F, -v from="$(to_trace "$t_drop")" 'NR > 1 { d = $2; gsub(/"/, "", d) } NR > 1 && d == "e2e-c" && $1 + 0 > from + 3 { n++ } END { print n + 0 }' "$T")
	expect "no decision includes e2e-c 3 s after its destruction ($n trace rows)" test "$n" -eq 0
	local others
	# memcoord's lines about e2e-c from its destruction on (timeline).
	others=$(awk -v t="${t_drop:-0}" '$2 == "memcoord" && $1 + 0 >= t + 0 && /e2e-c/ { sub(/^[^ ]+ [^ ]+ /, ""); print }' "$TL" |
		grep -vE '^<6>' || true)
	expect "nothing about e2e-c after its destruction beyond info lines${others:+: $(head -n 2 <<<"$others" | tr '\n' '|')}" test -z "$others"
	memcoord_clean_exit
}

# ---- 5. a guest without the balloon driver ------------------------------------------

sc_noballoon()
{
	local policy=$1 name=noballoon n
	[ "$policy" = seed ] && name=noballoon-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		lab_define e2e-a "" "mc.noballoon" && lab_define e2e-b "wait:3,alloc:10:120,hold:2,idle" ||
			{ not_ok "$SC: define the guests"; scenario_end; return; }
		boot_and_run e2e-a e2e-b -- --policy "$policy" || { scenario_end; return; }
		lab_wait 40 workload_over e2e-b
		died_check && { scenario_end; return; }
		lab_sleep 3
		scenario_end
	fi
	local T=$LAB_OUT/trace.csv
	measure "$(grep -E 'e2e-a' "$LAB_OUT/memcoord.log" | head -n 5 | tr '\n' '|')"
	n=$(log_count '^<[0-9]>e2e-a: guest reports no balloon statistics')
	expect "memcoord logged once that e2e-a reports no balloon statistics (logged $n times)" test "$n" -eq 1
	n=$(log_count '^<[0-9]>(set|would set) e2e-a:')
	expect "memcoord never set e2e-a's balloon ($n set lines)" test "$n" -eq 0
	n=$(awk -F, 'NR > 1 { d = $2; gsub(/"/, "", d) } NR > 1 && d == "e2e-a" && $7 != "none" { n++ } END { print n + 0 }' "$T")
	expect "no decision acted on e2e-a ($n trace rows with an action)" test "$n" -eq 0
	expect "memcoord kept deciding for the other guest ($(log_count '^<6>set e2e-b:') balloon changes of e2e-b)" \
		test "$(log_count '^<6>set e2e-b:')" -ge 1
	memcoord_clean_exit
}

# ---- 6. libvirtd restarted mid-run -----------------------------------------------------

sc_restart()
{
	local policy=$1 name=restart sets_after
	[ "$policy" = seed ] && name=restart-seed
	scenario_begin "$name" "$2" || { not_ok "$SC: set up the scenario (libvirt daemon)"; scenario_end; return; }
	if live; then
		if [ "$LAB_MODE" = system-theirs ]; then
			echo "# $SC: skipped: the system libvirtd is not ours to restart"
			lab_end
			return
		fi
		lab_define e2e-a "wait:5,alloc:10:250,hold:3,free,idle" && lab_define e2e-b "" ||
			{ not_ok "$SC: define the guests"; scenario_end; return; }
		boot_and_run e2e-a e2e-b -- --policy "$policy" || { scenario_end; return; }
		# Restart while e2e-a is allocating.
		lab_wait 30 lab_serial_has e2e-a '^MC-STAT'
		lab_sleep 8 || { died_check; scenario_end; return; }
		if lab_daemon_restart; then
			ok "$SC: libvirtd restarted (guests still running: $(lab_virsh list --name | tr '\n' ' '))"
		else
			not_ok "$SC: libvirtd restarted"
			scenario_end
			return
		fi
		lab_wait 20 grep -q '^<[0-9]>reconnected to ' "$LAB_OUT/memcoord.log"
		sets_after()
		{
			awk '/^<[0-9]>reconnected to / { r = 1; next } r && /^<6>set / { n++ } END { exit !(n >= 1) }' "$LAB_OUT/memcoord.log"
		}
		lab_wait 40 sets_after
		lab_wait 60 workload_over e2e-a
		lab_sleep 2
		scenario_end
	fi
	local rec
	rec=$(grep -m1 '^<[0-9]>reconnected to ' "$LAB_OUT/memcoord.log" | cut -c1-40)
	expect "memcoord reconnected (${rec:-no 'reconnected' line}...)" test -n "$rec"
	sets_after=$(awk '/^<[0-9]>reconnected to / { r = 1; next } r && /^<6>set / { n++ } END { print n + 0 }' "$LAB_OUT/memcoord.log")
	expect "memcoord kept deciding after the reconnection ($sets_after balloon changes after it)" test "$sets_after" -ge 1
	expect "memcoord logged the lost connection ($(log_count 'lost the connection') times)" test "$(log_count 'lost the connection')" -ge 1
	expect "no guest was dropped across the restart ($(log_count 'dropped$') drops)" test "$(log_count 'dropped$')" -eq 0
	expect "e2e-a's workload was never OOM-killed (end: $(workload_end e2e-a))" test "$(oom_kills e2e-a)" -eq 0
	memcoord_clean_exit
}
