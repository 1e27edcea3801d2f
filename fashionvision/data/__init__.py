"""fashionvision.data"""
