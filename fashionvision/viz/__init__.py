"""fashionvision.viz"""
