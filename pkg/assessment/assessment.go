// Package assessment holds the vocabulary every service shares: the agent
// families, assessment statuses, subjects' business ids and deterministic ids.
package assessment

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Family names one agent family. Values are stable: they appear in subjects,
// durable consumer names and stored documents.
type Family string

// The six agent families.
const (
	FamilyStrategy   Family = "strategy"
	FamilyCloud      Family = "cloud"
	FamilyMLOps      Family = "mlops"
	FamilyCompliance Family = "compliance"
	FamilyResearch   Family = "research"
	FamilySimulation Family = "simulation"
)

// Families lists every family in report order.
func Families() []Family {
	return []Family{FamilyStrategy, FamilyCloud, FamilyMLOps, FamilyCompliance, FamilyResearch, FamilySimulation}
}

// ParseFamily returns the family named s, or false.
func ParseFamily(s string) (Family, bool) {
	for _, f := range Families() {
		if string(f) == s {
			return f, true
		}
	}
	return "", false
}

// Status of an assessment.
type Status string

// Assessment statuses. Completed, Partial and Failed are terminal.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusPartial   Status = "partial"
	StatusFailed    Status = "failed"
)

// Terminal reports whether no further change can happen to an assessment in s.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusPartial || s == StatusFailed
}

// DeterministicID derives a stable id from its parts, so a retried publish or
// upsert lands on the same message or document.
func DeterministicID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}
