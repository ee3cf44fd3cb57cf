# No node group here: nothing for node-role-ecr to judge
resource "aws_s3_bucket" "models" {
  bucket = "ml-fashion-recommender-models"
}
