package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSnap is the CPU time used so far by this process (and its waited-for
// children) and by the whole machine, to tell whether other work shared
// the machine during a measurement.
type cpuSnap struct {
	at          time.Time
	self        time.Duration
	child       time.Duration // of self: a child process's time counted in it (0 if none)
	machineBusy time.Duration // all CPUs, from /proc/stat (0 if unreadable)
}

func takeCPUSnap() cpuSnap {
	s := cpuSnap{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.machineBusy = machineBusy()
	return s
}

// machineBusy sums the non-idle jiffies of the "cpu" line of /proc/stat.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var busy []string
	for i, f := range fields[1:] {
		if i != 3 && i != 4 { // idle, iowait
			busy = append(busy, f)
		}
	}
	return jiffies(busy...)
}

// processCPU is the CPU time process pid used so far (0 if unreadable).
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After the command name in parentheses: state is field 3, utime and
	// stime fields 14 and 15.
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	return jiffies(f[11:13]...)
}

// jiffies sums counts of clock ticks as /proc reports them.
func jiffies(counts ...string) time.Duration {
	var n int64
	for _, c := range counts {
		v, _ := strconv.ParseInt(c, 10, 64)
		n += v
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(n) * time.Second / hz
}

// cpuUse is what happened between two snapshots, in cores (child: the
// part of self a child process used).
type cpuUse struct{ self, child, others float64 }

func cpuBetween(a, b cpuSnap) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	self := (b.self - a.self).Seconds() / wall
	u := cpuUse{self: self, child: (b.child - a.child).Seconds() / wall}
	if b.machineBusy > 0 {
		u.others = max(0, (b.machineBusy-a.machineBusy).Seconds()/wall-self)
	}
	return u
}
