"""fashionvision.retrieval"""
