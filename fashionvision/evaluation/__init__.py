"""fashionvision.evaluation"""
