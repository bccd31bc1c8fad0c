package certs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// maxText bounds text from the API server that goes into an error or a log.
const maxText = 256

// IdentityError reports credentials that the API server accepts as someone other than this node.
type IdentityError struct {
	File   string   // the kubeconfig holding the credentials
	User   string   // the user the API server says they authenticate as
	Groups []string // that user's groups
	Want   string   // system:node:<node name>, in group system:nodes
}

func (e *IdentityError) Error() string {
	return fmt.Sprintf("kubeconfig %s authenticates as %q (groups %s), not as %q in group %s: give bosun this node's kubeconfig (or fix --hostname-override), or remove the file and give --bootstrap-kubeconfig",
		e.File, bound(e.User), boundList(e.Groups), e.Want, nodesGroup)
}

// CredentialsError reports credentials that the API server rejects (401) or that may not do what a
// node must (403).
type CredentialsError struct {
	File string // the kubeconfig holding the credentials
	Code int    // the HTTP status: 401 or 403
	Hint string // what to do about it
	Err  error  // the API server's answer
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("kubeconfig %s: the API server answered %d %s: %s: %v",
		e.File, e.Code, http.StatusText(e.Code), e.Hint, e.Err)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// checkIdentity asks the API server who client's credentials are and returns an *IdentityError
// unless they are node's, or a *CredentialsError when they are rejected.
func checkIdentity(ctx context.Context, client kubernetes.Interface, file, node string) error {
	r, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return withCredentialsHint(fmt.Errorf("self subject review: %w", err), file, node)
	}
	u := r.Status.UserInfo
	if u.Username != nodeUser(node) || !slices.Contains(u.Groups, nodesGroup) {
		return &IdentityError{File: file, User: u.Username, Groups: u.Groups, Want: nodeUser(node)}
	}
	return nil
}

// withCredentialsHint turns a 401 or 403 from the API server into a *CredentialsError naming file.
func withCredentialsHint(err error, file, node string) error {
	switch {
	case apierrors.IsUnauthorized(err):
		return &CredentialsError{File: file, Code: http.StatusUnauthorized, Err: err,
			Hint: "its credentials are expired, revoked or not from this cluster (a bootstrap token expires after 24h by default: kubeadm token create); replace the file, or remove --kubeconfig's file and give a valid --bootstrap-kubeconfig"}
	case apierrors.IsForbidden(err):
		return &CredentialsError{File: file, Code: http.StatusForbidden, Err: err,
			Hint: fmt.Sprintf("its user may not do what a node does; check that it is %s (kubeadm's node and bootstrap RBAC bindings: kubeadm init phase bootstrap-token); a kube-apiserver that has just started answers so too for a few seconds, until its default roles exist: bosun tries again", nodeUser(node))}
	}
	return err
}

// bound shortens s to maxText bytes for an error message; callers print it with %q.
func bound(s string) string {
	if len(s) <= maxText {
		return s
	}
	return s[:maxText] + "..."
}

func boundList(ss []string) string {
	out := make([]string, 0, len(ss))
	for i, s := range ss {
		if i == 16 {
			out = append(out, "...")
			break
		}
		out = append(out, strconv.Quote(bound(s)))
	}
	return fmt.Sprint(out)
}

// isTerminal reports errors that retrying cannot fix.
func isTerminal(err error) bool {
	var ie *IdentityError
	var ce *CredentialsError
	var se *CSRError
	return errors.As(err, &ie) || errors.As(err, &ce) || errors.As(err, &se)
}
