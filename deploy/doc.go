// Package deploy holds no code: it is the service packaging of kexecrec (the
// systemd unit and its environment file, the Dockerfile, the Kubernetes
// manifests under kubernetes/) and the tests that check them: the unit
// passes systemd-analyze verify, and the recorder attaches and records with
// exactly the unit's capability set and nothing less.
package deploy
