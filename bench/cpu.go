package main

import (
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
	var busy int64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(busy) * time.Second / hz
}

// cpuUse is what happened between two snapshots, in cores.
type cpuUse struct{ self, others float64 }

func cpuBetween(a, b cpuSnap) cpuUse {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return cpuUse{}
	}
	self := (b.self - a.self).Seconds() / wall
	u := cpuUse{self: self}
	if b.machineBusy > 0 {
		u.others = max(0, (b.machineBusy-a.machineBusy).Seconds()/wall-self)
	}
	return u
}
