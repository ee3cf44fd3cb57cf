resource "aws_iam_role" "node_group" {
  name               = "shop-eks-node-group"
  assume_role_policy = data.aws_iam_policy_document.node_assume_role.json
}

data "aws_iam_policy_document" "node_assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_eks_node_group" "main" {
  cluster_name    = "shop-eks"
  node_group_name = "shop-default"
  node_role_arn   = aws_iam_role.node_group.arn
  subnet_ids      = var.private_subnet_ids

  scaling_config {
    desired_size = 2
    min_size     = 1
    max_size     = 4
  }
}

variable "private_subnet_ids" {
  type    = list(string)
  default = []
}

data "aws_iam_policy_document" "node_ecr" {
  statement {
    effect    = "Allow"
    actions   = ["ecr:*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "node_ecr" {
  name   = "shop-eks-node-ecr"
  role   = aws_iam_role.node_group.id
  policy = data.aws_iam_policy_document.node_ecr.json
}
