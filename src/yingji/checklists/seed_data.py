"""The checklist modules and major-hazard criteria every install starts with.

Loaded by the data migration ``0002_seed`` (and by ``yingji load_checklists``, which adds what
is missing and links sectors created later, e.g. by the demo data). Plain data only: no imports
of models, so the migration stays valid as the models evolve.

Sources (texts paraphrased faithfully; article numbers as published):

* 《中华人民共和国安全生产法》(2021年修正)
* 《工贸企业重大事故隐患判定标准》(应急管理部令第10号, 2023-05-15施行): 第三条 (all
  industry & trade enterprises), 第十一条 (dust explosion), 第十二条 (liquid-ammonia
  refrigeration), 第十三条 (confined spaces with H2S/CO poisoning risk), 第十四条 (failed
  monitoring, alarm and protection facilities)
* 《工贸企业粉尘防爆安全规定》(应急管理部令第6号), GB 15577-2018《粉尘防爆安全规程》
* 《工贸企业有限空间作业安全规定》(应急管理部令第13号, 2024-01-01施行)
* 《危险化学品安全管理条例》(国务院令第591号, 2013年修订), GB 15603-2022
* 《中华人民共和国消防法》(2021年修正), 《重大火灾隐患判定方法》GB 35181-2017
* 《城镇燃气管理条例》(国务院令第583号, 2016年修订), GB 55009-2021《燃气工程项目规范》
* GB 9448-1999《焊接与切割安全》, AQ 7015-2018《氨制冷企业安全规范》

Where the article of a regulation is not certain only the regulation is cited.
"""

GM10 = "《工贸企业重大事故隐患判定标准》(应急管理部令第10号)"
GB35181 = "《重大火灾隐患判定方法》GB 35181-2017"

# (code, standard, clause, text)
CRITERIA = [
    ("GM10-3-1", GM10, "第三条(一)",
     "未对承包单位、承租单位的安全生产工作统一协调、管理,或者未定期进行安全检查的"),
    ("GM10-3-2", GM10, "第三条(二)",
     "特种作业人员未按照规定经专门的安全作业培训并取得相应资格,上岗作业的"),
    ("GM10-3-3", GM10, "第三条(三)",
     "金属冶炼企业主要负责人、安全生产管理人员未按照规定经考核合格的"),
    ("GM10-11-1", GM10, "第十一条(一)",
     "粉尘爆炸危险场所设置在非框架结构的多层建(构)筑物内,或者粉尘爆炸危险场所内设有员工宿舍、会议室、"
     "办公室、休息室等人员聚集场所的"),
    ("GM10-11-2", GM10, "第十一条(二)",
     "不同类别的可燃性粉尘、可燃性粉尘与可燃气体等易加剧爆炸危险的介质共用一套除尘系统,或者不同建(构)筑物、"
     "不同防火分区共用一套除尘系统、除尘系统互联互通的"),
    ("GM10-11-3", GM10, "第十一条(三)",
     "干式除尘系统未采取泄爆、惰化、抑爆等任一种爆炸防控措施的"),
    ("GM10-11-4", GM10, "第十一条(四)",
     "铝镁等金属粉尘除尘系统采用正压除尘方式,或者其他可燃性粉尘除尘系统采用正压吹送粉尘时,未采取火花探测消除"
     "等防范点燃源措施的"),
    ("GM10-11-5", GM10, "第十一条(五)",
     "除尘系统采用重力沉降室除尘,或者采用干式巷道式构筑物作为除尘风道的"),
    ("GM10-11-6", GM10, "第十一条(六)",
     "铝镁等金属粉尘、木质粉尘的干式除尘系统未设置锁气卸灰装置的"),
    ("GM10-11-7", GM10, "第十一条(七)",
     "除尘器、收尘仓等划分为20区的粉尘爆炸危险场所电气设备不符合防爆要求的"),
    ("GM10-11-8", GM10, "第十一条(八)",
     "粉碎、研磨、造粒等易产生机械点燃源的工艺设备前,未设置铁、石等杂物去除装置,或者木制品加工企业与砂光机"
     "连接的风管未设置火花探测消除装置的"),
    ("GM10-11-9", GM10, "第十一条(九)",
     "遇湿自燃金属粉尘收集、堆放、储存场所未采取通风等防止氢气积聚措施,或者干式收集、堆放、储存场所未采取防水、"
     "防潮措施的"),
    ("GM10-11-10", GM10, "第十一条(十)",
     "未落实粉尘清理制度,造成作业现场积尘严重的"),
    ("GM10-12-1", GM10, "第十二条(一)",
     "包装、分割、产品整理场所的空调系统采用氨直接蒸发制冷的"),
    ("GM10-12-2", GM10, "第十二条(二)",
     "快速冻结装置未设置在单独的作业间内,或者快速冻结装置作业间内作业人员数量超过9人的"),
    ("GM10-13-1", GM10, "第十三条(一)",
     "存在硫化氢、一氧化碳等中毒风险的有限空间,未对有限空间进行辨识、建立安全管理台账,并且未设置明显的安全"
     "警示标志的"),
    ("GM10-13-2", GM10, "第十三条(二)",
     "存在硫化氢、一氧化碳等中毒风险的有限空间,未落实有限空间作业审批,或者未执行“先通风、再检测、后作业”要求,"
     "或者作业现场未设置监护人员的"),
    ("GM10-14", GM10, "第十四条",
     "本标准所列情形中直接关系生产安全的监控、报警、防护等设施、设备、装置失效或者无效的"),
    ("GB35181-5.2", GB35181, "5.2",
     "生产、储存、经营易燃易爆危险品的场所与人员密集场所、居住场所设置在同一建筑物内,或者与人员密集场所、"
     "居住场所的防火间距小于国家工程建设消防技术标准规定值的75%"),
    ("GB35181-5.5", GB35181, "5.5",
     "公共娱乐场所、商店、地下人员密集场所的安全出口数量不足或者其总净宽度小于国家工程建设消防技术标准规定值的80%"),
    ("GB35181-5.8", GB35181, "5.8",
     "在人员密集场所违反消防安全规定使用、储存或者销售易燃易爆危险品"),
    ("GB35181-5.10", GB35181, "5.10",
     "人员密集场所的居住场所采用彩钢夹芯板搭建,且彩钢夹芯板芯材的燃烧性能等级低于GB 8624规定的A级"),
]

AQF = "《安全生产法》"
DUST_RULE = "《工贸企业粉尘防爆安全规定》(应急管理部令第6号)"
CONFINED_RULE = "《工贸企业有限空间作业安全规定》(应急管理部令第13号)"
HAZCHEM_RULE = "《危险化学品安全管理条例》"
FIRE_LAW = "《消防法》"
GAS_RULE = "《城镇燃气管理条例》"

G, M = "general", "major"

# Items moved out of the general module (a convenience store is no 工贸 enterprise or smelter):
# migration 0003 publishes a revision of an installed general module without them.
MOVED_FROM_GENERAL = ("TY-07", "TY-08", "TY-09")
GENERAL_SECTION_TITLES = {"教育培训与持证上岗": "教育培训", "承包承租与现场管理": "现场管理"}  # old → new

# Each module: code, name, description, applies_to_all, trait codes, sector codes, site kinds,
# sections [(title, [item, ...])]; item = (code, question, basis, level, category, photo, criterion code).
MODULES = [
    {
        "code": "general", "name": "通用安全管理",
        "description": "适用于所有监管对象的安全生产基础管理检查:责任制、制度、培训、现场和应急管理。"
                       "工贸企业和金属冶炼的专门要求在各自模块中。",
        "applies_to_all": True, "traits": [], "sectors": [], "site_kinds": [],
        "sections": [
            ("安全生产责任与制度", [
                ("TY-01", "建立并落实全员安全生产责任制,明确各岗位的责任人员、责任范围和考核标准",
                 f"{AQF}第四条、第二十二条", G, "management", False, None),
                ("TY-02", "主要负责人组织制定并实施本单位安全生产规章制度和操作规程",
                 f"{AQF}第二十一条", G, "management", False, None),
                ("TY-03", "按规定设置安全生产管理机构或者配备专职(兼职)安全生产管理人员",
                 f"{AQF}第二十四条", G, "management", False, None),
                ("TY-04", "建立安全风险分级管控和隐患排查治理双重预防机制,如实记录隐患排查治理情况并向从业人员通报",
                 f"{AQF}第四十一条", G, "management", False, None),
                ("TY-05", "保证安全生产所必需的资金投入,按规定提取和使用安全生产费用",
                 f"{AQF}第二十三条", G, "management", False, None),
            ]),
            ("教育培训", [
                ("TY-06", "对从业人员进行安全生产教育和培训,未经培训合格的不安排上岗,并建立培训档案",
                 f"{AQF}第二十八条", G, "management", False, None),
            ]),
            ("现场管理", [
                ("TY-10", "生产经营场所与员工宿舍不在同一座建筑物内或保持安全距离;生产经营场所和员工宿舍设有符合要求、"
                          "标志明显、保持畅通的出口和疏散通道",
                 f"{AQF}第四十二条", G, "environment", True, None),
                ("TY-11", "在有较大危险因素的生产经营场所和有关设施、设备上设置明显的安全警示标志",
                 f"{AQF}第三十五条", G, "environment", True, None),
                ("TY-12", "安全设备经常性维护、保养并定期检测;未关闭、破坏直接关系生产安全的监控、报警、防护、救生设备设施",
                 f"{AQF}第三十六条", G, "equipment", True, None),
                ("TY-13", "为从业人员提供符合国家标准或行业标准的劳动防护用品,并监督、教育其按规定佩戴、使用",
                 f"{AQF}第四十五条", G, "equipment", True, None),
            ]),
            ("应急管理", [
                ("TY-14", "制定生产安全事故应急救援预案并与所在地政府预案衔接,定期组织演练",
                 f"{AQF}第八十一条;《生产安全事故应急条例》", G, "management", False, None),
                ("TY-15", "依法参加工伤保险;属于国家规定的高危行业、领域的,投保安全生产责任保险",
                 f"{AQF}第五十一条", G, "management", False, None),
            ]),
        ],
    },
    {
        "code": "dust", "name": "粉尘防爆",
        "description": "存在可燃性粉尘爆炸危险的工贸企业。第一节各项对应重大事故隐患判定标准第十一条。",
        "applies_to_all": False, "traits": ["dust"], "sectors": [], "site_kinds": [],
        "sections": [
            ("重大事故隐患判定项(第十一条)", [
                ("FC-01", "粉尘爆炸危险场所未设置在非框架结构的多层建(构)筑物内,场所内未设员工宿舍、会议室、办公室、"
                          "休息室等人员聚集场所",
                 f"{GM10}第十一条(一);GB 15577-2018", M, "dust", True, "GM10-11-1"),
                ("FC-02", "不同类别的可燃性粉尘、可燃性粉尘与可燃气体等未共用一套除尘系统;不同建(构)筑物、不同防火分区"
                          "未共用一套除尘系统,除尘系统未互联互通",
                 f"{GM10}第十一条(二)", M, "dust", True, "GM10-11-2"),
                ("FC-03", "干式除尘系统采取了泄爆、惰化、抑爆等至少一种爆炸防控措施",
                 f"{GM10}第十一条(三);GB 15577-2018", M, "dust", True, "GM10-11-3"),
                ("FC-04", "铝镁等金属粉尘除尘系统未采用正压除尘方式;其他可燃性粉尘采用正压吹送时已采取火花探测消除等"
                          "防范点燃源措施",
                 f"{GM10}第十一条(四)", M, "dust", True, "GM10-11-4"),
                ("FC-05", "除尘系统未采用重力沉降室除尘,未采用干式巷道式构筑物作为除尘风道",
                 f"{GM10}第十一条(五)", M, "dust", True, "GM10-11-5"),
                ("FC-06", "铝镁等金属粉尘、木质粉尘的干式除尘系统设置了锁气卸灰装置",
                 f"{GM10}第十一条(六)", M, "dust", True, "GM10-11-6"),
                ("FC-07", "除尘器、收尘仓等划分为20区的粉尘爆炸危险场所内电气设备符合防爆要求",
                 f"{GM10}第十一条(七);GB 15577-2018", M, "dust", True, "GM10-11-7"),
                ("FC-08", "粉碎、研磨、造粒等设备前设置了铁、石等杂物去除装置;木制品加工企业与砂光机连接的风管设置了"
                          "火花探测消除装置",
                 f"{GM10}第十一条(八)", M, "dust", True, "GM10-11-8"),
                ("FC-09", "遇湿自燃金属粉尘收集、堆放、储存场所采取通风等防止氢气积聚措施,干式收集、堆放、储存场所"
                          "采取防水、防潮措施",
                 f"{GM10}第十一条(九)", M, "dust", True, "GM10-11-9"),
                ("FC-10", "落实粉尘清理制度,明确清理范围、周期、方式和责任人,作业现场无严重积尘",
                 f"{GM10}第十一条(十);{DUST_RULE}", M, "dust", True, "GM10-11-10"),
            ]),
            ("粉尘防爆日常管理", [
                ("FC-11", "建立粉尘防爆安全管理制度,辨识粉尘爆炸危险场所并建立清单,开展粉尘爆炸风险评估",
                 DUST_RULE, G, "management", False, None),
                ("FC-12", "对粉尘作业岗位人员开展粉尘防爆专项安全培训,并有记录",
                 DUST_RULE, G, "management", False, None),
                ("FC-13", "除尘系统、监测报警装置、泄爆抑爆装置定期检查维护并有记录;除尘系统停运期间停止相关作业",
                 f"{DUST_RULE};GB 15577-2018", G, "dust", True, None),
                ("FC-14", "粉尘爆炸危险场所落实防雷、防静电措施,设备设施可靠接地,严禁明火和违规使用易产生火花的工具",
                 "GB 15577-2018", G, "dust", True, None),
            ]),
        ],
    },
    {
        "code": "ammonia", "name": "涉氨制冷",
        "description": "使用液氨作为制冷剂的企业(冷库、食品加工等)。第一节对应重大事故隐患判定标准第十二条。",
        "applies_to_all": False, "traits": ["ammonia"], "sectors": [], "site_kinds": [],
        "sections": [
            ("重大事故隐患判定项(第十二条)", [
                ("AJ-01", "包装、分割、产品整理场所的空调系统未采用氨直接蒸发制冷",
                 f"{GM10}第十二条(一)", M, "ammonia", True, "GM10-12-1"),
                ("AJ-02", "快速冻结装置设置在单独的作业间内,且作业间内作业人员不超过9人",
                 f"{GM10}第十二条(二)", M, "ammonia", True, "GM10-12-2"),
            ]),
            ("设备设施与监测报警", [
                ("AJ-03", "氨制冷机房及设备间设置氨气浓度检测报警装置,与事故排风机联锁,报警信号接入有人值守场所,"
                          "且运行正常",
                 "AQ 7015-2018;GB 50072-2021《冷库设计标准》", G, "ammonia", True, None),
                ("AJ-04", "贮氨器、低压循环桶等压力容器的安全阀、压力表、液位计在检验有效期内且完好",
                 "《特种设备安全法》;AQ 7015-2018", G, "equipment", True, None),
                ("AJ-05", "液氨管道、阀门标明介质名称和流向,无跑、冒、滴、漏,紧急泄压或紧急切断装置完好",
                 "AQ 7015-2018", G, "ammonia", True, None),
            ]),
            ("应急管理", [
                ("AJ-06", "配备正压式空气呼吸器、防化服、应急喷淋洗眼器等应急器材并保持完好",
                 f"AQ 7015-2018;{AQF}第四十五条", G, "ammonia", True, None),
                ("AJ-07", "制定液氨泄漏专项应急预案或现场处置方案,并定期组织演练",
                 f"{AQF}第八十一条;AQ 7015-2018", G, "management", False, None),
            ]),
        ],
    },
    {
        "code": "confined", "name": "有限空间",
        "description": "存在有限空间作业的单位(污水池、窨井、发酵池、储罐等)。重大隐患项对应判定标准第十三条。",
        "applies_to_all": False, "traits": ["confined"], "sectors": [], "site_kinds": [],
        "sections": [
            ("辨识与管理", [
                ("YK-01", "对有限空间进行辨识并建立安全管理台账,在有限空间出入口设置明显的安全警示标志",
                 f"{CONFINED_RULE};{GM10}第十三条(一)", M, "confined_space", True, "GM10-13-1"),
                ("YK-02", "有限空间作业负责人、作业人员、监护人员经有限空间作业专项安全培训",
                 CONFINED_RULE, G, "management", False, None),
                ("YK-03", "将有限空间作业发包的,与承包单位签订安全生产管理协议,明确双方安全管理职责",
                 f"{CONFINED_RULE};{AQF}第四十九条", G, "management", False, None),
            ]),
            ("作业过程控制", [
                ("YK-04", "落实有限空间作业审批制度,作业前经本单位负责人批准",
                 f"{CONFINED_RULE};{GM10}第十三条(二)", M, "confined_space", False, "GM10-13-2"),
                ("YK-05", "严格执行“先通风、再检测、后作业”,检测合格后方可进入作业",
                 f"{CONFINED_RULE};{GM10}第十三条(二)", M, "confined_space", True, "GM10-13-2"),
                ("YK-06", "作业现场设置专职监护人员,监护人员全程在场,不得离开作业现场",
                 f"{CONFINED_RULE};{GM10}第十三条(二)", M, "confined_space", True, "GM10-13-2"),
                ("YK-07", "作业期间对有限空间内气体进行持续或定时监测,保持通风",
                 CONFINED_RULE, G, "confined_space", False, None),
            ]),
            ("应急救援", [
                ("YK-08", "配备气体检测报警仪、机械通风设备、呼吸防护用品、全身式安全带和救援三脚架等设备并保持完好",
                 CONFINED_RULE, G, "equipment", True, None),
                ("YK-09", "制定有限空间作业现场处置方案,每年至少组织一次演练,严禁盲目施救",
                 CONFINED_RULE, G, "management", False, None),
            ]),
        ],
    },
    {
        "code": "hazchem", "name": "危险化学品",
        "description": "生产、储存、使用、经营危险化学品的单位(使用和储存环节为主)。",
        "applies_to_all": False, "traits": ["hazchem"], "sectors": ["hazchem"], "site_kinds": [],
        "sections": [
            ("储存管理", [
                ("WH-01", "危险化学品储存在专用仓库、专用场地或者专用储存室内,并由专人负责管理",
                 f"{HAZCHEM_RULE}第二十四条", G, "hazchem", True, None),
                ("WH-02", "剧毒化学品以及储存数量构成重大危险源的其他危险化学品在专用仓库内单独存放,实行双人收发、"
                          "双人保管",
                 f"{HAZCHEM_RULE}第二十四条", G, "hazchem", True, None),
                ("WH-03", "危险化学品按性质分类、分区、分库储存,禁忌物料不混存,储存数量不超过限量",
                 "GB 15603-2022《危险化学品仓库储存通则》", G, "hazchem", True, None),
                ("WH-04", "储存场所设置明显的安全警示标志,通风、防爆电气、防静电、泄漏收集等设施完好",
                 f"{HAZCHEM_RULE}第二十条、第二十六条", G, "hazchem", True, None),
            ]),
            ("使用与制度", [
                ("WH-05", "建立危险化学品出入库核查、登记制度,账物相符",
                 f"{HAZCHEM_RULE}第二十五条", G, "management", False, None),
                ("WH-06", "危险化学品包装(容器)上有化学品安全标签,现场备有化学品安全技术说明书",
                 f"{HAZCHEM_RULE}第十五条", G, "hazchem", True, None),
                ("WH-07", "从具有相应许可的单位采购危险化学品,不向无资质单位或个人转让",
                 f"{HAZCHEM_RULE}第三十七条", G, "management", False, None),
                ("WH-08", "生产、储存、使用易燃易爆危险化学品的场所未与人员密集场所、居住场所设置在同一建筑物内,"
                          "防火间距符合要求",
                 f"{AQF}第四十二条;{FIRE_LAW}第十九条;{GB35181} 5.2", M, "fire", True, "GB35181-5.2"),
            ]),
            ("重大危险源与应急", [
                ("WH-09", "构成重大危险源的,已登记建档,定期检测、评估、监控,并报应急管理部门备案",
                 f"{AQF}第四十条", G, "hazchem", False, None),
                ("WH-10", "从业人员了解所用化学品危险特性,现场配备相应个体防护装备和洗眼器、吸附材料等应急器材",
                 f"{AQF}第四十四条、第四十五条", G, "hazchem", True, None),
            ]),
        ],
    },
    {
        "code": "fire_small", "name": "小场所消防安全",
        "description": "九小场所、人员密集场所、居住出租房和经营性自建房的消防安全检查。",
        "applies_to_all": False, "traits": ["crowded", "rental", "self_built"],
        "sectors": ["fire", "rental_housing", "self_built_housing"],
        "site_kinds": ["small_place", "crowded_place", "rental_housing", "self_built"],
        "sections": [
            ("安全疏散", [
                ("XF-01", "疏散通道、安全出口畅通,未被占用、堵塞、封闭",
                 f"{FIRE_LAW}第二十八条", G, "fire", True, None),
                ("XF-02", "门窗未设置影响逃生和灭火救援的铁栅栏、广告牌等障碍物",
                 f"{FIRE_LAW}第二十八条", G, "fire", True, None),
                ("XF-03", "公共娱乐场所、商店、地下人员密集场所的安全出口数量和总净宽度符合消防技术标准",
                 f"{GB35181} 5.5", M, "fire", True, "GB35181-5.5"),
            ]),
            ("消防设施器材", [
                ("XF-04", "按规定配置灭火器等消防器材,在有效期内且完好有效",
                 f"{FIRE_LAW}第十六条", G, "fire", True, None),
                ("XF-05", "应急照明、疏散指示标志完好有效",
                 f"{FIRE_LAW}第十六条", G, "fire", True, None),
            ]),
            ("用火用电与建筑防火", [
                ("XF-06", "生产、储存、经营场所未与居住场所设置在同一建筑物内(“三合一”),确需设置的符合消防技术标准",
                 f"{FIRE_LAW}第十九条", G, "fire", True, None),
                ("XF-07", "场所内未违反消防安全规定使用、储存或销售易燃易爆危险品",
                 f"{FIRE_LAW}第二十三条;{GB35181} 5.8", M, "fire", True, "GB35181-5.8"),
                ("XF-08", "居住场所未采用芯材燃烧性能低于A级的彩钢夹芯板搭建",
                 f"{GB35181} 5.10", M, "fire", True, "GB35181-5.10"),
                ("XF-09", "电气线路敷设规范,无私拉乱接、超负荷用电",
                 f"{FIRE_LAW}第二十七条", G, "electrical", True, None),
                ("XF-10", "电动自行车及其蓄电池未在室内公共区域、疏散通道、安全出口处停放或充电",
                 f"{FIRE_LAW}第二十八条;《高层民用建筑消防安全管理规定》(应急管理部令第5号)第三十七条",
                 G, "fire", True, None),
            ]),
            ("消防安全管理", [
                ("XF-11", "明确消防安全责任人和管理人,落实防火巡查检查,从业人员会报警、会扑救初起火灾、会组织疏散",
                 f"{FIRE_LAW}第十六条;《机关、团体、企业、事业单位消防安全管理规定》(公安部令第61号)",
                 G, "management", False, None),
            ]),
        ],
    },
    {
        "code": "gas", "name": "燃气使用",
        "description": "使用管道燃气或瓶装液化石油气的单位,重点是餐饮等经营场所。",
        "applies_to_all": False, "traits": ["gas"], "sectors": ["urban_gas"], "site_kinds": [],
        "sections": [
            ("报警与切断", [
                ("RQ-01", "使用燃气的餐饮等经营场所安装可燃气体报警装置,并保障其正常使用",
                 f"{AQF}第三十六条", G, "gas", True, None),
                ("RQ-02", "在地下、半地下或密闭房间使用燃气的,设置燃气泄漏报警和自动切断装置且运行正常",
                 "GB 55009-2021《燃气工程项目规范》", G, "gas", True, None),
            ]),
            ("器具与管线", [
                ("RQ-03", "使用合格的燃气燃烧器具和气瓶,及时更换国家明令淘汰或使用年限已届满的燃气燃烧器具、连接管",
                 f"{GAS_RULE}第二十七条", G, "gas", True, None),
                ("RQ-04", "燃气连接软管无老化、龟裂,长度符合规定,未穿越墙体、门窗,两端用专用卡箍固定",
                 "GB 55009-2021;GB 50028《城镇燃气设计规范》", G, "gas", True, None),
                ("RQ-05", "未擅自安装、改装、拆除户内燃气设施,未将燃气管道作为负重支架或接地引线",
                 f"{GAS_RULE}第二十八条", G, "gas", True, None),
                ("RQ-06", "燃气使用场所通风良好,燃气设施周边无易燃杂物堆放",
                 "GB 55009-2021", G, "gas", True, None),
            ]),
            ("钢瓶与管理", [
                ("RQ-07", "液化石油气钢瓶未存放在地下室、半地下室或不具备安全条件的场所,直立放置并有防倾倒措施,"
                          "未倒灌、加热钢瓶",
                 f"{GAS_RULE}第二十八条", G, "gas", True, None),
                ("RQ-08", "瓶装液化石油气从取得燃气经营许可的供应站购买,钢瓶有充装标签或追溯标识且在检验有效期内",
                 GAS_RULE, G, "gas", True, None),
                ("RQ-09", "单位燃气用户建立燃气安全管理制度,操作维护人员经燃气安全知识和操作技能培训",
                 f"{GAS_RULE}第二十七条", G, "management", False, None),
            ]),
        ],
    },
    {
        "code": "hot_work", "name": "动火作业/电气焊",
        "description": "动火、电焊、气焊和切割作业。",
        "applies_to_all": False, "traits": ["hot_work"], "sectors": [], "site_kinds": [],
        "sections": [
            ("作业审批与人员", [
                ("DH-01", "动火作业前按规定办理动火审批手续,作业内容、地点、时间与审批一致",
                 f"{FIRE_LAW}第二十一条", G, "hot_work", False, None),
                ("DH-02", "电焊、气焊、切割等作业人员持有效的特种作业操作证上岗",
                 f"{FIRE_LAW}第二十一条;{AQF}第三十条;{GM10}第三条(二)", M, "hot_work", False, "GM10-3-2"),
                ("DH-03", "外包动火作业与承包单位签订安全生产管理协议,并统一协调、管理",
                 f"{AQF}第四十九条", G, "management", False, None),
            ]),
            ("现场防护", [
                ("DH-04", "动火现场清除易燃可燃物,不能清除的采取隔离、覆盖等措施,并配备灭火器材",
                 f"{FIRE_LAW}第二十一条;GB 9448-1999《焊接与切割安全》", G, "hot_work", True, None),
                ("DH-05", "安排专门人员现场监护(监火),作业结束后清理现场,确认无遗留火种",
                 f"{AQF}第四十三条", G, "hot_work", True, None),
                ("DH-06", "在具有火灾、爆炸危险的场所动火前进行可燃气体检测,合格后作业",
                 "GB 9448-1999;GB 30871-2022", G, "hot_work", False, None),
            ]),
            ("设备与气瓶", [
                ("DH-07", "电焊机、焊把线绝缘完好,接地可靠;氧气瓶与乙炔瓶分开放置并保持安全距离,乙炔瓶直立并装回火防止器",
                 "GB 9448-1999", G, "hot_work", True, None),
                ("DH-08", "作业人员正确佩戴焊接防护面罩、绝缘手套等劳动防护用品",
                 f"{AQF}第四十五条", G, "equipment", True, None),
            ]),
        ],
    },
    {
        "code": "industry_trade", "name": "工贸企业通用",
        "description": "工贸行业领域的企业:重大事故隐患判定标准第三条中适用于所有工贸企业的判定项。",
        "applies_to_all": False, "traits": [], "sectors": ["industry_trade"], "site_kinds": [],
        "sections": [
            ("持证上岗", [
                ("GT-01", "特种作业人员(电工、焊接与热切割、制冷与空调、高处作业等)经专门的安全作业培训并取得相应资格后上岗",
                 f"{AQF}第三十条;{GM10}第三条(二)", M, "management", False, "GM10-3-2"),
            ]),
            ("承包承租管理", [
                ("GT-02", "与承包单位、承租单位签订专门的安全生产管理协议或在合同中约定各自的安全生产管理职责,"
                          "对其安全生产工作统一协调、管理,并定期进行安全检查",
                 f"{AQF}第四十九条;{GM10}第三条(一)", M, "management", False, "GM10-3-1"),
            ]),
        ],
    },
    {
        "code": "metal_smelting", "name": "金属冶炼",
        "description": "涉及高温熔融金属的冶炼、铸造企业。",
        "applies_to_all": False, "traits": ["molten_metal"], "sectors": [], "site_kinds": [],
        "sections": [
            ("人员资格", [
                ("JS-01", "金属冶炼企业主要负责人、安全生产管理人员经考核合格",
                 f"{AQF}第二十七条;{GM10}第三条(三)", M, "management", False, "GM10-3-3"),
            ]),
            ("现场管理", [
                ("JS-02", "熔炼、浇注等高温熔融金属作业区域设置明显的安全警示标志",
                 f"{AQF}第三十五条", G, "environment", True, None),
            ]),
        ],
    },
]


def load(apps=None) -> dict:
    """Create the criteria and modules that do not exist yet (by code), each module with its
    version 1 published (``created_by`` None); link traits and sectors that exist (missing codes
    are skipped) — also for seeded modules that exist already, so sectors created later (demo
    data) are linked by a second run. Returns counts of what was created or linked.

    ``apps`` is the migration app registry; None uses the current models.
    """
    from django.utils import timezone

    if apps is None:
        from django.apps import apps as current

        apps = current
    Criterion = apps.get_model("checklists", "MajorHazardCriterion")
    Module = apps.get_model("checklists", "ChecklistModule")
    Version = apps.get_model("checklists", "ChecklistVersion")
    Section = apps.get_model("checklists", "ChecklistSection")
    Item = apps.get_model("checklists", "ChecklistItem")
    RiskTrait = apps.get_model("registry", "RiskTrait")
    Sector = apps.get_model("core", "Sector")

    counts = {"criteria": 0, "modules": 0, "items": 0, "links": 0}
    criteria = {}
    for sort, (code, standard, clause, text) in enumerate(CRITERIA):
        obj, created = Criterion.objects.get_or_create(
            code=code, defaults={"standard": standard, "clause": clause, "text": text, "sort": sort})
        criteria[code] = obj
        counts["criteria"] += int(created)
    now = timezone.now()
    for sort, spec in enumerate(MODULES):
        module = Module.objects.filter(code=spec["code"]).first()
        if module is None:
            module = Module.objects.create(
                code=spec["code"], name=spec["name"], description=spec["description"],
                applies_to_all=spec["applies_to_all"], site_kinds=list(spec["site_kinds"]), sort=sort * 10)
            version = Version.objects.create(module=module, number=1, status="published", note="初始版本",
                                             published_at=now)
            for s_order, (title, items) in enumerate(spec["sections"], start=1):
                section = Section.objects.create(version=version, order=s_order, title=title)
                Item.objects.bulk_create([
                    Item(version=version, section=section, order=i_order, code=code, question=question, basis=basis,
                         hazard_level=level, category=category, photo_required=photo,
                         criterion=criteria.get(criterion) if criterion else None)
                    for i_order, (code, question, basis, level, category, photo, criterion)
                    in enumerate(items, start=1)])
                counts["items"] += len(items)
            counts["modules"] += 1
        traits = list(RiskTrait.objects.filter(code__in=spec["traits"]).exclude(checklist_modules=module))
        sectors = list(Sector.objects.filter(code__in=spec["sectors"]).exclude(checklist_modules=module))
        if traits:
            module.traits.add(*traits)
        if sectors:
            module.sectors.add(*sectors)
        counts["links"] += len(traits) + len(sectors)
    return counts
