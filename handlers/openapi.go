package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI serves the service's OpenAPI document.
func OpenAPI(doc []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml", doc)
	}
}
