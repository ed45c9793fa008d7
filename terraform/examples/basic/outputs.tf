output "function_urls" {
  description = "URL of every deployq function."
  value       = module.deployq.function_urls
}

output "deployments_url" {
  description = "api-url for the GitHub Action and the deployq CLI."
  value       = module.deployq.deployments_url
}

output "service_account_emails" {
  description = "Every service account of the stack."
  value       = module.deployq.service_account_emails
}
