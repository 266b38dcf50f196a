// Package deploy holds how Infra Mind is packaged for containers: the
// Dockerfile that builds any service, and tests that check docker-compose.yml
// at the repository root against the services that exist.
package deploy
