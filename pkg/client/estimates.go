package client

import (
	"context"
	"net/http"

	"github.com/infra-mind/infra-mind/pkg/api"
)

// EstimateInference posts an inference estimate request (JSON, see the
// InferenceEstimateRequest schema) and returns the gateway's answer. The
// body is sent as written, so the gateway names any mistake in it. An
// infeasible deployment is an answer with feasible false, not an error; a
// malformed request is a *Problem naming the fields.
func (c *Client) EstimateInference(ctx context.Context, body []byte) (api.InferenceEstimate, error) {
	var out api.InferenceEstimate
	err := c.do(ctx, http.MethodPost, "/v1/estimates/inference", body, "application/json", http.StatusOK, &out)
	return out, err
}

// EstimateTraining posts a training estimate request (JSON, see the
// TrainingEstimateRequest schema) and returns the gateway's answer.
func (c *Client) EstimateTraining(ctx context.Context, body []byte) (api.TrainingEstimate, error) {
	var out api.TrainingEstimate
	err := c.do(ctx, http.MethodPost, "/v1/estimates/training", body, "application/json", http.StatusOK, &out)
	return out, err
}
