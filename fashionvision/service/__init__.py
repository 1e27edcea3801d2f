"""fashionvision.service"""
