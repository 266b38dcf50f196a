// Package span writes a low-high range for people: "2-3 instances", or "2 instances" when both
// ends agree, never "2-2". Every advisor text that shows an estimate's range goes through it, so a
// report reads the same whichever family wrote the sentence.
package span

import "fmt"

// Text is "lo-hi", or lo alone when the two ends read the same.
func Text(lo, hi string) string { return Join(lo, hi, "-") }

// Join is lo, sep and hi, or lo alone when the two ends read the same.
func Join(lo, hi, sep string) string {
	if lo == hi {
		return lo
	}
	return lo + sep + hi
}

// Format writes each end with the same fmt verb (e.g. "$%.2f", "%d", "%.4g") and joins them as
// Text does: ends that print the same are one figure, even when the values differ below the
// precision shown.
func Format(format string, lo, hi any) string {
	return Text(fmt.Sprintf(format, lo), fmt.Sprintf(format, hi))
}

// Count is a range of things with its noun: "1 instance", "2 instances", "1-2 instances".
func Count(lo, hi int, one, many string) string {
	noun := many
	if lo == 1 && hi == 1 {
		noun = one
	}
	return Format("%d", lo, hi) + " " + noun
}
