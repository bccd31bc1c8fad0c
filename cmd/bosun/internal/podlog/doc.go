// Package podlog reads a container's log file for bosun logs: the last
// lines of it without reading it whole (Tail), and what is appended to it
// afterwards, across the rotations of the kubelet and bosun (Follow). It
// parses nothing but the CRI log format's stream and tag, through
// runtime/crilog; it never writes.
package podlog
