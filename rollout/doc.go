// Package rollout rolls back a failed upgrade of a static pod. Rollout wraps
// the manifest source that the sync loop reads (sync.Source): for each pod it
// follows the loop's status of the manifest file's version, and when that
// version is not Ready within the pod's progress deadline, or crash-loops,
// it hands the loop the last version that was Ready instead, under the same
// key, so the loop replaces the pod back. The manifest file is left as
// written; the rollback holds until the file's content changes.
//
// The policy is a pure function of the pod's record, the file's version, the
// loop's status and the time (decide). The last Ready version of each pod and
// any rollback survive a restart of bosun in one file below --root-dir
// (rollout.json), written atomically.
//
// A version is complete as soon as the loop's status shows it Ready (a
// container without a readiness probe once it ran for the deadline without
// a restart). The loop reads Snapshot before it observes, so a sync decides
// on the status the sync before it published; while a version progresses,
// Rollout looks at the loop's latest status every half second and wakes
// the loop when that status decides the version, so that no decision
// waits for a sync that nothing else would cause.
//
// Rollout never calls the runtime and never acts on containers: the loop is
// the one writer. It only chooses which version the loop is asked to run, and
// wakes the loop when a deadline passes or a decision is due.
package rollout
