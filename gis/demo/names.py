"""Name lists for the demo district (``gis.demo``): communities, streets, units and people.

All names are invented but shaped like real ones in Gaoping, Shanxi; any likeness to a real
person is accidental. Kept apart from ``gis.demo`` so the generator reads as logic, not lists.
"""

from __future__ import annotations

#: Level-1 grids (roughly communities, 社区); 15 are used, in code order.
COMMUNITIES = [
    "凤凰社区",
    "神农社区",
    "长平社区",
    "丹河社区",
    "泫氏社区",
    "炎帝社区",
    "米山社区",
    "建宁社区",
    "北关社区",
    "南关社区",
    "西关社区",
    "东关社区",
    "团池社区",
    "康营社区",
    "朝阳社区",
    "文昌社区",
    "育才社区",
]

#: Long, gently curved main roads (主干道) crossing the district.
MAIN_ROADS = ["长平大道", "神农大道", "凤凰大道", "泫氏大道", "炎帝大道"]

#: Stems for lattice streets: west-east lines get 街, north-south lines get 路.
STREET_STEMS = [
    "建设",
    "文化",
    "新华",
    "府前",
    "书院",
    "胜利",
    "光明",
    "解放",
    "人民",
    "和平",
    "团结",
    "育才",
    "滨河",
    "兴业",
    "友谊",
    "康乐",
    "青年",
    "平安",
    "惠民",
    "幸福",
    "迎宾",
    "金峰",
    "同心",
    "朝阳",
    "丹河",
    "米山",
    "鼎盛",
    "北环",
    "南环",
    "东风",
    "西城",
    "仁和",
    "永安",
    "长乐",
    "广场",
    "学府",
    "宏达",
    "春晖",
    "锦绣",
    "瑞丰",
    "泰和",
    "福寿",
    "安居",
    "秀水",
    "翠屏",
    "碧桂",
    "紫荆",
    "明德",
    "崇文",
    "尚德",
    "振兴",
    "富民",
    "裕华",
    "昌盛",
    "祥和",
    "绿洲",
    "红星",
    "新民",
    "立新",
    "前进",
]

#: Names by place kind (``places.kind``); markets, schools and the hospital also name dedicated grids.
PLACE_NAMES = {
    "market": ["凤凰农贸市场", "东关蔬菜批发市场", "北关综合市场"],
    "bar_street": ["丹河酒吧街"],
    "school": ["高平市第一中学", "东城实验小学", "神农小学", "育才中学"],
    "hospital": ["高平市人民医院"],
    "transport_hub": ["高平汽车站"],
    "old_compound": ["煤机厂家属院", "丝织厂宿舍", "粮食局小区", "供销社家属院", "电厂老小区"],
    "construction_site": ["锦绣华府施工工地", "丹河新城二期工地", "学府名苑施工工地"],
    "mall": ["万达广场"],
}

#: Units that get a dedicated grid but drive no incidents of their own.
UNIT_NAMES = {
    "park": ["炎帝公园"],
    "enterprise": ["兰花煤化工有限公司", "泫氏铸业有限公司", "高平丝织厂", "长平物流园"],
    "government": ["东城街道办事处", "高平市政务服务中心"],
}

#: Common surnames (百家姓, roughly by frequency) and given-name characters for staff.
SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段牛"
)
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文斌辉鹏宇晨浩俊峰玲燕萍雪梅海波"
    "丹鑫琳晓东亮飞凯雷欣悦佳怡子涵思远宏图瑞丰庆林慧颖婷雅琦博文彬嘉翔"
)

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """Write ``1 <= n <= 99`` in Chinese numerals (``3`` -> ``三``, ``12`` -> ``十二``)."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_number: {n} outside 1..99")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "十" if tens == 1 else _DIGITS[tens] + "十"
    return head + (_DIGITS[ones] if ones else "")


#: Short incident descriptions by category code (one is picked at random per incident).
DESCRIPTIONS = {
    "01-01": ["居民楼顶私搭彩钢房", "沿街商户违规加建雨棚", "院内私自搭建简易房"],
    "01-02": ["路边垃圾未及时清运", "垃圾桶满溢，周边散落垃圾", "绿化带内有暴露垃圾"],
    "01-07": [
        "车辆长期停放落满灰尘，疑似僵尸车",
        "无牌车辆长期占用车位",
        "废弃车辆轮胎瘪气长期未动",
    ],
    "01-18": ["居民在楼下圈养家禽", "小区空地私自饲养鸡鸭", "院内饲养家禽气味扰民"],
    "02-01": ["未经审批设置户外广告牌", "门头广告牌破损存在隐患", "违规悬挂条幅广告"],
    "02-02": ["电线杆上乱张贴小广告", "墙面乱涂写办证电话", "单元门口张贴小广告"],
    "03-01": ["工地夜间施工噪音扰民", "施工机械噪音过大", "工地超时作业扰民"],
    "03-02": ["施工材料占用人行道", "工地围挡占道", "施工车辆占道作业"],
    "04-01": ["路面出现塌陷坑洞", "人行道地面下沉开裂"],
    "04-02": ["楼道堆放杂物存在火灾隐患", "电动车楼道内充电", "私拉电线存在隐患"],
    "05-01": ["流动摊贩占道经营", "游商沿街叫卖", "三轮车流动售卖水果"],
    "05-04": ["商户店外经营占道", "沿街商户摆放桌椅占道", "店外摆摊占用人行道"],
    "05-05": ["机动车违停占用人行道", "车辆乱停放影响通行", "机动车占用消防车道停放"],
    "05-06": ["共享单车乱停放", "电动车无序停放堵塞通道", "非机动车占用盲道"],
    "05-07": ["沿街乱堆物料", "建筑材料堆放占道", "杂物堆放占用公共空间"],
    "05-08": ["商户高音喇叭招揽顾客", "店铺音响外放噪音扰民", "商业促销噪音过大"],
    "05-10": ["露天烧烤油烟扰民", "店外露天烧烤", "夜间露天烧烤占道"],
    "06-01": ["车辆堵塞消防通道", "杂物占用消防通道", "消防通道被私家车占用"],
    "06-02": ["楼上噪音扰民", "夜间装修噪音", "邻居深夜喧哗"],
    "06-03": ["小区内流浪犬聚集", "流浪犬追逐行人", "路边发现流浪犬"],
    "06-04": ["邻里因漏水发生纠纷", "邻里停车纠纷", "邻里因噪音产生矛盾"],
}
