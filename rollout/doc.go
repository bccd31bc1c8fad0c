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
// Rollout never calls the runtime and never acts on containers: the loop is
// the one writer. It only chooses which version the loop is asked to run, and
// wakes the loop when a deadline passes.
package rollout
