"""Analysis: findings and the rules that derive them from a bundle."""
